package mounter

import (
	"slices"
	"testing"

	"k8s.io/mount-utils"
)

// TestBelow: only mount points strictly below the directory count, one per
// mount; a sibling whose name starts with the directory's does not.
func TestBelow(t *testing.T) {
	mps := []mount.MountPoint{
		{Device: "/dev/loop7", Path: "/var/lib/kubelet/staging/vol", Type: "ext4"},
		{Device: "tmpfs", Path: "/var/lib/kubelet/staging/vol/a", Type: "tmpfs"},
		{Device: "tmpfs", Path: "/var/lib/kubelet/staging/vol/a/b", Type: "tmpfs"},
		{Device: "tmpfs", Path: "/var/lib/kubelet/staging/vol/a", Type: "tmpfs"},
		{Device: "tmpfs", Path: "/var/lib/kubelet/staging/vol2/c", Type: "tmpfs"},
		{Device: "tmpfs", Path: "/var/lib/kubelet/staging", Type: "tmpfs"},
	}
	got := Below(mps, "/var/lib/kubelet/staging/vol")
	want := []string{"/var/lib/kubelet/staging/vol/a", "/var/lib/kubelet/staging/vol/a/b", "/var/lib/kubelet/staging/vol/a"}
	if !slices.Equal(got, want) {
		t.Errorf("Below = %q, want %q", got, want)
	}
	if got := Below(mps, "/var/lib/kubelet/staging/vol/a/b"); len(got) != 0 {
		t.Errorf("Below a leaf mount = %q, want none", got)
	}
}
