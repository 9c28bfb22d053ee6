package testutil

import (
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// MountExt4 makes an ext4 filesystem on dev (mkfsArgs are passed to
// mkfs.ext4 before dev) and mounts it on a directory in t.TempDir();
// t.Cleanup unmounts it.
func MountExt4(t testing.TB, dev string, mkfsArgs ...string) string {
	t.Helper()
	RequireRoot(t)
	args := append(append([]string{"-q", "-F"}, mkfsArgs...), dev)
	if out, err := exec.Command("mkfs.ext4", args...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 %s: %v: %s", dev, err, out)
	}
	dir := filepath.Join(t.TempDir(), Prefix+"-mnt")
	if err := unix.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dev, dir, "ext4", 0, ""); err != nil {
		t.Fatalf("mount %s on %s: %v", dev, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
