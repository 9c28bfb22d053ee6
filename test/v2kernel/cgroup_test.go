//go:build v2kernel && linux

package v2kernel

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/pkg/throttle"
)

// controllers is what kubelet enables on its cgroups and runc on a pod's:
// io for io.max, memory so that buffered writeback is charged to the writer.
var controllers = []string{"io", "memory"}

// mkCgroup creates the cgroup dir/name, enables the given controllers for its
// children, and removes it when the test ends (children first: t.Cleanup runs
// in reverse order).
func mkCgroup(t *testing.T, dir, name string, enable ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatalf("create cgroup: %v", err)
	}
	t.Cleanup(func() { rmCgroup(t, p) })
	if len(enable) > 0 {
		ctl := "+" + strings.Join(enable, " +")
		writeCgroupFile(t, p, "cgroup.subtree_control", ctl)
	}
	return p
}

// rmCgroup removes an empty cgroup. The kernel may still count a task that
// has just been reaped for a moment (EBUSY), so it retries briefly.
func rmCgroup(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.Remove(p)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("remove cgroup %s: %v", p, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeCgroupFile(t *testing.T, dir, file, value string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		t.Fatalf("write %q to %s/%s: %v", value, dir, file, err)
	}
}

// kubeletTree is a kubelet-style hierarchy (cgroupfs driver) below a test's
// own parent cgroup, the --cgroup-root a kubelet would be given.
type kubeletTree struct {
	Root      string // /sys/fs/cgroup/csiblkio-test-<rand>
	Kubepods  string // Root/kubepods
	Burstable string // Root/kubepods/burstable
}

func newKubeletTree(t *testing.T) kubeletTree {
	t.Helper()
	root := mkCgroup(t, cgroupRoot, testutil.Prefix+"-"+randomHex(t, 4), controllers...)
	kubepods := mkCgroup(t, root, "kubepods", controllers...)
	return kubeletTree{Root: root, Kubepods: kubepods, Burstable: mkCgroup(t, kubepods, "burstable", controllers...)}
}

// pod creates kubepods/burstable/pod<uid> as kubelet does for a Burstable pod.
func (k kubeletTree) pod(t *testing.T, uid string) string {
	t.Helper()
	return mkCgroup(t, k.Burstable, "pod"+uid, controllers...)
}

// container creates a leaf below a pod cgroup, as runc does for a container.
func container(t *testing.T, pod string) string {
	t.Helper()
	return mkCgroup(t, pod, "ctr-"+randomHex(t, 4))
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// newPodUID returns a random UID in the Kubernetes (UUID) format.
func newPodUID(t *testing.T) string {
	h := randomHex(t, 16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// cgroupLine returns the line of a keyed cgroup file (io.max, io.stat) that
// starts with the device, or "" when the file has none.
func cgroupLine(t *testing.T, dir, file string, dev throttle.Device) string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), dev.String()+" ") {
			return s.Text()
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return ""
}

// ioStat reads the device's counters from a cgroup's io.stat
// ("7:0 rbytes=0 wbytes=25165824 rios=0 wios=24 dbytes=0 dios=0"); a device
// the cgroup has not done IO to has no line, which reads as all zero.
func ioStat(t *testing.T, dir string, dev throttle.Device) map[string]uint64 {
	t.Helper()
	stat := map[string]uint64{}
	fields := strings.Fields(cgroupLine(t, dir, "io.stat", dev))
	for _, kv := range fields[min(1, len(fields)):] {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			t.Fatalf("io.stat of %s: cannot parse %q", dir, kv)
		}
		stat[k] = n
	}
	return stat
}
