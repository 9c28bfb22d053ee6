package mounter

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
	"k8s.io/mount-utils"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		opts []string
		want options
		ok   bool
	}{
		{nil, options{}, true},
		{[]string{"defaults"}, options{}, true},
		{[]string{"bind"}, options{bind: true}, true},
		{[]string{"bind", "ro"}, options{bind: true, readOnly: true}, true},
		{[]string{"ro", "defaults"}, options{readOnly: true}, true},
		{[]string{"ro", "rw"}, options{}, true}, // the last one wins, as in mount(8)
		{[]string{"bind", "noexec"}, options{}, false},
		{[]string{"nofail"}, options{}, false},
		{[]string{"x-mount.mkdir"}, options{}, false},
		{[]string{"data=ordered"}, options{}, false},
	} {
		got, ok := parse(tc.opts)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parse(%q) = %+v, %t; want %+v, %t", tc.opts, got, ok, tc.want, tc.ok)
		}
	}
}

// mountPoint returns the mountinfo entry of the last mount at dir.
func mountPoint(t *testing.T, dir string) (mount.MountInfo, bool) {
	t.Helper()
	mis, err := mount.ParseMountInfo("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var last mount.MountInfo
	found := false
	for _, mi := range mis {
		if mi.MountPoint == dir {
			last, found = mi, true
		}
	}
	return last, found
}

// dirs returns a source directory holding a file and an empty target,
// named with the test prefix; t.Cleanup unmounts whatever the test
// left mounted at the target.
func dirs(t *testing.T) (source, target string) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	source = filepath.Join(base, testutil.Prefix+"-src")
	target = filepath.Join(base, testutil.Prefix+"-dst")
	for _, d := range []string{source, target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(source, "file"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for {
			if _, ok := mountPoint(t, target); !ok {
				return
			}
			if err := unix.Unmount(target, 0); err != nil {
				t.Errorf("unmount %s: %v", target, err)
				return
			}
		}
	})
	return source, target
}

// bindMounted bind-mounts a fresh source dir (dirs) at a fresh target with
// "bind" and opts, and fails t unless the target is then a mount point whose
// options, as mountinfo lists them, include want.
func bindMounted(t *testing.T, opts []string, want string) (source, target string) {
	t.Helper()
	source, target = dirs(t)
	if err := New().Mount(source, target, "", append([]string{"bind"}, opts...)); err != nil {
		t.Fatal(err)
	}
	mi, ok := mountPoint(t, target)
	if !ok || !slices.Contains(mi.MountOptions, want) {
		t.Fatalf("bind mount %v at %s: found %t, options %q; want %s", opts, target, ok, mi.MountOptions, want)
	}
	return source, target
}

func TestBindMount(t *testing.T) {
	source, target := bindMounted(t, nil, "rw")
	if err := os.WriteFile(filepath.Join(target, "new"), []byte("x"), 0o644); err != nil {
		t.Fatalf("write through the bind mount: %v", err)
	}
	if _, err := os.Stat(filepath.Join(source, "new")); err != nil {
		t.Errorf("a file written through the bind mount is not in the source: %v", err)
	}
}

func TestReadOnlyBindMount(t *testing.T) {
	source, target := bindMounted(t, []string{"ro"}, "ro")
	err := os.WriteFile(filepath.Join(target, "new"), []byte("x"), 0o644)
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("write through a read-only bind mount: %v, want EROFS", err)
	}
	// The source stays writable: only the new mount point is read-only.
	if err := os.WriteFile(filepath.Join(source, "new"), []byte("x"), 0o644); err != nil {
		t.Errorf("write to the source: %v", err)
	}
}

// An option the fast path does not know goes to mount(8), which applies
// it: a bind mount with noexec is a bind plus a remount there.
func TestOtherOptionsGoToMountBinary(t *testing.T) {
	bindMounted(t, []string{"noexec"}, "noexec")
}

func TestFilesystemMount(t *testing.T) {
	_, target := dirs(t)
	if err := New().Mount(testutil.Prefix, target, "tmpfs", []string{"ro", "defaults"}); err != nil {
		t.Fatal(err)
	}
	mi, ok := mountPoint(t, target)
	if !ok || mi.FsType != "tmpfs" || !slices.Contains(mi.MountOptions, "ro") {
		t.Fatalf("mount at %s: found %t, %+v; want a read-only tmpfs", target, ok, mi)
	}
}

func TestMountErrorNamesTheCall(t *testing.T) {
	_, target := dirs(t)
	err := New().Mount(filepath.Join(t.TempDir(), "missing"), target, "", []string{"bind"})
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("bind mount of a missing source: %v, want ENOENT", err)
	}
}

// A filesystem with a file open on it stays mounted, and Unmount says so
// with EBUSY; closed, it unmounts.
func TestUnmountBusy(t *testing.T) {
	_, target := dirs(t)
	m := New()
	if err := m.Mount(testutil.Prefix, target, "tmpfs", nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(target, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := m.Unmount(target); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("unmount with a file open: %v, want EBUSY", err)
	}
	if _, ok := mountPoint(t, target); !ok {
		t.Fatalf("%s is no longer mounted after a busy unmount", target)
	}
	f.Close()
	if err := m.Unmount(target); err != nil {
		t.Fatalf("unmount after the file was closed: %v", err)
	}
	if _, ok := mountPoint(t, target); ok {
		t.Errorf("%s is still mounted", target)
	}
}

// Unmount of a directory that is no mount point fails with EINVAL, and of
// a missing path with an error that os.ErrNotExist matches (the recovery
// of stale publications treats that one as done).
func TestUnmountNotMounted(t *testing.T) {
	_, target := dirs(t)
	if err := New().Unmount(target); !errors.Is(err, unix.EINVAL) {
		t.Errorf("unmount of a plain directory: %v, want EINVAL", err)
	}
	if err := New().Unmount(filepath.Join(target, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unmount of a missing path: %v, want one that is os.ErrNotExist", err)
	}
}
