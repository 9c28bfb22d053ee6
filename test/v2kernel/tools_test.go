//go:build v2kernel && linux

package v2kernel

import (
	"os/exec"
	"strings"
	"testing"
)

// TestVMRunsTheFilesystemTools checks the harness, not the project: the
// programs k8s.io/mount-utils runs for the driver (mkfs.<fs>, blkid, fsck,
// mount, umount) work inside the VM for both filesystems the driver offers,
// called the way mount-utils calls them. A failure here means the initramfs
// lacks a tool, a library or a kernel module (hack/qemu/initramfs.sh).
func TestVMRunsTheFilesystemTools(t *testing.T) {
	requireV2Kernel(t)
	for _, c := range []struct {
		fstype string
		mkfs   []string
		size   int64
	}{
		{"ext4", []string{"-F", "-m0"}, 64 << 20},
		{"xfs", []string{"-f"}, 320 << 20}, // mkfs.xfs refuses less than 300 MB
	} {
		t.Run(c.fstype, func(t *testing.T) {
			dev := attachLoop(t, c.size).Path
			run(t, "mkfs."+c.fstype, append(c.mkfs, dev)...)
			if out := run(t, "blkid", "-p", "-s", "TYPE", "-s", "PTTYPE", "-o", "export", dev); !strings.Contains(out, "TYPE="+c.fstype) {
				t.Errorf("blkid on a fresh %s says %q", c.fstype, out)
			}
			run(t, "fsck", "-a", dev)
			dir := t.TempDir()
			run(t, "mount", "-t", c.fstype, "-o", "defaults", dev, dir)
			run(t, "umount", dir)
		})
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
