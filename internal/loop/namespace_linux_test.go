package loop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestKernelFindsADeviceAttachedInAGoneMountNamespace is a plugin restart
// in a pod: the device was attached through a bind mount of the state dir
// in a mount namespace that is gone (the old container), so sysfs prints
// the backing file relative to that mount's root. Find still finds it by
// the file's identity, and once the same directory is mounted here again
// (the new container's state dir) BackingFile and List name it there.
func TestKernelFindsADeviceAttachedInAGoneMountNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tool := range []string{"unshare", "mount", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (util-linux) to attach from another mount namespace", tool)
		}
	}
	dir := t.TempDir()
	state := filepath.Join(dir, testutil.Prefix+"-state") // the host's state dir
	old := filepath.Join(dir, testutil.Prefix+"-old")     // its mount in the old container
	fresh := filepath.Join(dir, testutil.Prefix+"-new")   // its mount in the new one
	for _, d := range []string{filepath.Join(state, "volumes"), old, fresh} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(state, "volumes", "vol.img")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(file, 16<<20); err != nil {
		t.Fatal(err)
	}

	// The old container: a private mount namespace that binds the state dir,
	// attaches through it and exits.
	out, err := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" "$2" && exec losetup --find --show --direct-io=on "$2/volumes/vol.img"`,
		"_", state, old).CombinedOutput()
	if err != nil {
		t.Fatalf("attach from another mount namespace: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	k := NewKernel()
	t.Cleanup(func() { _ = k.Detach(dev) })

	printed, err := os.ReadFile(filepath.Join(k.sysLoop(filepath.Base(dev)), "backing_file"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(printed)); got != "/volumes/vol.img" {
		t.Fatalf("sysfs prints %q for a device attached in a gone namespace; this test expects the mount-relative /volumes/vol.img", got)
	}

	found, ok, err := k.Find(file)
	if err != nil || !ok || found.Path != dev {
		t.Fatalf("Find(%s) = %+v, %v, %v; want %s (by the file's device and inode)", file, found, ok, err, dev)
	}

	// The new container mounts the same state dir again.
	if err := unix.Mount(state, fresh, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(fresh, unix.MNT_DETACH) })
	want := filepath.Join(fresh, "volumes", "vol.img")
	if got, err := k.BackingFile(dev); err != nil || got != want {
		t.Errorf("BackingFile(%s) = %q, %v; want %q", dev, got, err, want)
	}
	atts, err := k.List()
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, a := range atts {
		if a.Device == dev {
			listed = true
			if a.BackingFile != want || a.Deleted {
				t.Errorf("List has %+v for %s; want backing file %s, not deleted", a, dev, want)
			}
		}
	}
	if !listed {
		t.Errorf("List does not have %s", dev)
	}
}
