package throttle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

func TestDetectBackend(t *testing.T) {
	t.Run("hybrid host uses v1 blkio", func(t *testing.T) {
		f := testutil.NewFakeCgroupV1(t)
		b, err := DetectBackend(f.CgroupRoot, f)
		if err != nil {
			t.Fatal(err)
		}
		if b.Version() != 1 || b.Hierarchy() != f.Root || !strings.Contains(b.Description(), "v1") {
			t.Errorf("got v%d at %s (%s), want v1 at %s", b.Version(), b.Hierarchy(), b.Description(), f.Root)
		}
	})
	t.Run("unified host uses v2 at the root", func(t *testing.T) {
		f := testutil.NewFakeCgroupV2(t)
		b, err := DetectBackend(f.CgroupRoot, f)
		if err != nil {
			t.Fatal(err)
		}
		if b.Version() != 2 || b.Hierarchy() != f.CgroupRoot {
			t.Errorf("got v%d at %s, want v2 at %s", b.Version(), b.Hierarchy(), f.CgroupRoot)
		}
	})
	t.Run("hybrid host with io on unified uses it", func(t *testing.T) {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "unified"), 0o755)
		os.WriteFile(filepath.Join(root, "unified", "cgroup.controllers"), []byte("io memory\n"), 0o644)
		b, err := DetectBackend(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b.Version() != 2 || b.Hierarchy() != filepath.Join(root, "unified") {
			t.Errorf("got v%d at %s", b.Version(), b.Hierarchy())
		}
	})
	t.Run("nothing usable says what is missing", func(t *testing.T) {
		root := t.TempDir()
		os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu memory\n"), 0o644)
		_, err := DetectBackend(root, nil)
		if !errors.Is(err, ErrNoBackend) || !strings.Contains(err.Error(), "blkio.throttle.read_bps_device") ||
			!strings.Contains(err.Error(), `does not list "io"`) {
			t.Fatalf("err = %v; want ErrNoBackend naming the files looked at", err)
		}
	})
}

func TestV1BackendWritesKernelLines(t *testing.T) {
	f := testutil.NewFakeCgroupV1(t)
	b := NewV1(f.Root, f)
	dir := f.Mkdir(t, "a")
	l := Limits{WriteBytesPerSecond: 10485760, ReadIOPS: 100}
	if err := b.WriteLimits(dir, testDev, l); err != nil {
		t.Fatal(err)
	}
	wantLines(t, dir, string(V1WriteBPS), "7:256 10485760")
	wantLines(t, dir, string(V1ReadIOPS), "7:256 100")
	wantLines(t, dir, string(V1ReadBPS))
	got, err := b.ReadLimits(dir, testDev)
	if err != nil || got != l {
		t.Fatalf("ReadLimits = %+v, %v; want %+v", got, err, l)
	}
	if err := b.WriteLimits(dir, testDev, Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, k := range V1Knobs {
		wantLines(t, dir, string(k))
	}
	if err := b.WriteLimits(filepath.Join(f.Root, "missing"), testDev, l); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("writing to a missing cgroup: %v, want ErrNotExist", err)
	}
}

func TestV2BackendWritesKernelLines(t *testing.T) {
	f := testutil.NewFakeCgroupV2(t)
	b := NewV2(f.Root, f)
	dir := f.Mkdir(t, "a")
	l := Limits{ReadBytesPerSecond: 10485760}
	if err := b.WriteLimits(dir, testDev, l); err != nil {
		t.Fatal(err)
	}
	wantLines(t, dir, "io.max", "7:256 rbps=10485760 wbps=max riops=max wiops=max")
	got, err := b.ReadLimits(dir, testDev)
	if err != nil || got != l {
		t.Fatalf("ReadLimits = %+v, %v; want %+v", got, err, l)
	}
	if err := b.WriteLimits(dir, testDev, Limits{}); err != nil {
		t.Fatal(err)
	}
	wantLines(t, dir, "io.max")

	// "a" does not enable io for its children: b has no io.max, and the
	// backend says so instead of enabling the controller itself.
	child := f.Mkdir(t, "a/b")
	err = b.WriteLimits(child, testDev, l)
	if err == nil || !strings.Contains(err.Error(), "cgroup.subtree_control") || !strings.Contains(err.Error(), "no io.max") {
		t.Fatalf("write without io controller: %v; want an error naming cgroup.subtree_control", err)
	}
	if c := file(t, dir, "cgroup.subtree_control"); strings.Contains(c, "io") {
		t.Errorf("the backend enabled io in %s: %q", dir, c)
	}
}

func TestBackendCounters(t *testing.T) {
	for _, v := range []int{1, 2} {
		f, b := fakeBackend(t, v)
		dir := f.Mkdir(t, "a")
		c, err := b.ReadCounters(dir, testDev)
		if err != nil || c != (Counters{}) {
			t.Errorf("v%d: counters of a cgroup without IO = %+v, %v; want zeros", v, c, err)
		}
		f.SetIO(t, dir, "7:0", testutil.IO{ReadBytes: 1})
		f.SetIO(t, dir, "7:256", testutil.IO{ReadBytes: 4096, WriteBytes: 8192, ReadIOs: 1, WriteIOs: 2})
		c, err = b.ReadCounters(dir, testDev)
		if want := (Counters{4096, 8192, 1, 2}); err != nil || c != want {
			t.Errorf("v%d: counters = %+v, %v; want %+v", v, c, err, want)
		}
		f.FailReads(filepath.Join(dir, map[int]string{1: v1ServicedRecursive, 2: "io.stat"}[v]), syscall.EIO)
		if c, err := b.ReadCounters(dir, testDev); !errors.Is(err, syscall.EIO) {
			t.Errorf("v%d: a failing read gave %+v, %v; want the error", v, c, err)
		}
	}
}
