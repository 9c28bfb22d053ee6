package driver

import (
	"slices"
	"testing"

	"k8s.io/mount-utils"
)

// TestMountsBelow: only mount points strictly below the directory count,
// each once; a sibling whose name starts with the directory's does not.
func TestMountsBelow(t *testing.T) {
	d := newFakeDriver(t)
	d.deps.Mounter.Interface = mount.NewFakeMounter([]mount.MountPoint{
		{Device: "/dev/loop7", Path: "/var/lib/kubelet/staging/vol", Type: "ext4"},
		{Device: "tmpfs", Path: "/var/lib/kubelet/staging/vol/a", Type: "tmpfs"},
		{Device: "tmpfs", Path: "/var/lib/kubelet/staging/vol/a/b", Type: "tmpfs"},
		{Device: "tmpfs", Path: "/var/lib/kubelet/staging/vol/a", Type: "tmpfs"},
		{Device: "tmpfs", Path: "/var/lib/kubelet/staging/vol2/c", Type: "tmpfs"},
		{Device: "tmpfs", Path: "/var/lib/kubelet/staging", Type: "tmpfs"},
	})
	got := d.mountsBelow("/var/lib/kubelet/staging/vol")
	want := []string{"/var/lib/kubelet/staging/vol/a", "/var/lib/kubelet/staging/vol/a/b"}
	if !slices.Equal(got, want) {
		t.Errorf("mountsBelow = %q, want %q", got, want)
	}
	if got := d.mountsBelow("/var/lib/kubelet/staging/vol/a/b"); len(got) != 0 {
		t.Errorf("mountsBelow of a leaf mount = %q, want none", got)
	}
}
