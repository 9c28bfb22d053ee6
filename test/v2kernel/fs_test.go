//go:build v2kernel && linux

package v2kernel

import (
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// mkfsMount formats dev with ext4 (with the mkfs the driver runs) and mounts
// it on a directory in the test's temp dir until the test ends. The inode
// tables and journal are initialised up front, so that no lazy-init IO of
// the kernel's runs into the test's measurements.
func mkfsMount(t *testing.T, dev string) string {
	t.Helper()
	out, err := exec.Command("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("mkfs.ext4 %s: %v: %s", dev, err, out)
	}
	dir := t.TempDir()
	if err := unix.Mount(dev, dir, "ext4", 0, ""); err != nil {
		t.Fatalf("mount %s on %s: %v", dev, dir, err)
	}
	// Registered after TempDir's own cleanup, so it runs before it.
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
