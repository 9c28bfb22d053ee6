package throttle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

var testDev = Device{Major: 7, Minor: 256}

const testUID = "5f1d2c3b-aaaa-4bbb-8ccc-0123456789ab"

// notes records the keys the table notified.
type notes struct {
	mu   sync.Mutex
	keys []Key
}

func (n *notes) notify(k Key) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.keys = append(n.keys, k)
}

func (n *notes) count(k Key) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, x := range n.keys {
		if x == k {
			c++
		}
	}
	return c
}

// fakeBackend returns a fake tree of cgroup version v and its backend.
func fakeBackend(t testing.TB, v int) (*testutil.FakeCgroup, Backend) {
	t.Helper()
	if v == 1 {
		f := testutil.NewFakeCgroupV1(t)
		return f, NewV1(f.Root, f)
	}
	f := testutil.NewFakeCgroupV2(t)
	return f, NewV2(f.Root, f)
}

type fixture struct {
	fake  *testutil.FakeCgroup
	table *Table
	notes *notes
}

// newFixture builds a table on a fake tree of the given version, with
// kubelet's cgroups under a prefixed --cgroup-root as the kernel tests do.
func newFixture(t testing.TB, version int, opts ...func(*Options)) *fixture {
	t.Helper()
	fx := &fixture{notes: &notes{}}
	var b Backend
	fx.fake, b = fakeBackend(t, version)
	o := Options{Backend: b, KubeletCgroupRoot: "kroot", Notify: fx.notes.notify}
	for _, f := range opts {
		f(&o)
	}
	fx.fake.Mkdir(t, "kroot")
	if version == 2 {
		fx.fake.EnableIO(t, "kroot")
	}
	fx.fake.Mkdir(t, "kroot/kubepods")
	if version == 2 {
		fx.fake.EnableIO(t, "kroot/kubepods")
	}
	fx.fake.Mkdir(t, "kroot/kubepods/burstable")
	if version == 2 {
		fx.fake.EnableIO(t, "kroot/kubepods/burstable")
	}
	fx.table = newTestTable(t, o)
	return fx
}

// newTestTable builds a table from o, fails t if that is refused, and
// closes the table when t ends. (throttletest.NewTable does the same for
// other packages; this package's own tests cannot import it.)
func newTestTable(t testing.TB, o Options) *Table {
	t.Helper()
	tb, err := NewTable(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

// pod creates the burstable pod cgroup of uid and returns its path.
func (fx *fixture) pod(t testing.TB, uid string) string {
	t.Helper()
	p := fx.fake.Mkdir(t, "kroot/kubepods/burstable/pod"+uid)
	if fx.fake.Version == 2 {
		fx.fake.EnableIO(t, "kroot/kubepods/burstable/pod"+uid)
	}
	return p
}

// container creates the cgroup name below pod uid's burstable pod cgroup,
// as the runtime does for a container, and returns its path.
func (fx *fixture) container(t testing.TB, uid, name string) string {
	t.Helper()
	return fx.fake.Mkdir(t, "kroot/kubepods/burstable/pod"+uid+"/"+name)
}

func podSpec(uid string, l Limits, scope Scope) (Key, Spec) {
	return Key{VolumeID: "vol-1", PodUID: uid}, Spec{Device: testDev, Limits: l, Scope: scope, Pod: PodRef{UID: uid, Name: "p", Namespace: "ns"}}
}

func ensure(t testing.TB, tb *Table, k Key, s Spec) Phase {
	t.Helper()
	ph, err := tb.Ensure(context.Background(), k, s)
	if err != nil {
		t.Fatalf("Ensure(%s): %v", k, err)
	}
	return ph
}

// file returns the content of the file name in dir.
func file(t testing.TB, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantLines fails unless file dir/name holds exactly the lines want, in
// any order (the kernel lists the newest rule first).
func wantLines(t testing.TB, dir, name string, want ...string) {
	t.Helper()
	content := file(t, dir, name)
	var got []string
	if c := strings.TrimSpace(content); c != "" {
		got = strings.Split(c, "\n")
	}
	want = slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s/%s = %q, want lines %q", dir, name, content, want)
	}
}

// otherUID is a second pod, for tests of an entry two groups share.
const otherUID = "6f1d2c3b-aaaa-4bbb-8ccc-0123456789ab"

// sharedEntryFixture is a fixture of cgroup version v with the pods testUID
// and otherUID, and where their volume-scope groups meet: the shared
// entry's directory and file (v1's root-level write_bps_device, v2's
// kubepods io.max), and wbpsLine, which renders that file's line for
// device 7:256 holding a write limit of l bytes per second.
func sharedEntryFixture(t *testing.T, v int) (fx *fixture, shared, file string, wbpsLine func(l uint64) string) {
	t.Helper()
	fx = newFixture(t, v)
	fx.pod(t, testUID)
	fx.pod(t, otherUID)
	if v == 2 {
		return fx, fx.fake.Path("kroot/kubepods"), "io.max", func(l uint64) string {
			return fmt.Sprintf("7:256 rbps=max wbps=%d riops=max wiops=max", l)
		}
	}
	return fx, fx.fake.Root, string(V1WriteBPS), func(l uint64) string { return fmt.Sprintf("7:256 %d", l) }
}
