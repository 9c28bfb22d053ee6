package driver

import (
	"slices"
	"testing"

	"k8s.io/mount-utils"
)

// TestMountsBelow: the busy message names each mount point below the path
// once, however many mounts are stacked on it (which points count is
// mounter.Below's, tested there).
func TestMountsBelow(t *testing.T) {
	d := newFakeDriver(t)
	d.deps.Mounter.Interface = mount.NewFakeMounter([]mount.MountPoint{
		{Device: "tmpfs", Path: "/staging/vol/b", Type: "tmpfs"},
		{Device: "tmpfs", Path: "/staging/vol/a", Type: "tmpfs"},
		{Device: "tmpfs", Path: "/staging/vol/b", Type: "tmpfs"},
	})
	want := []string{"/staging/vol/a", "/staging/vol/b"}
	if got := d.mountsBelow("/staging/vol"); !slices.Equal(got, want) {
		t.Errorf("mountsBelow = %q, want %q", got, want)
	}
}
