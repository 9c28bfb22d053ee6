package drivertest

import (
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Throttle is the real throttle core on the host's cgroup v1 blkio
// hierarchy, with a test-owned kubelet cgroup root.
type Throttle struct {
	Table   *throttle.Table
	Backend throttle.Backend
	// Parent is the kubelet cgroup root (csiblkio-test-<rand>), relative to
	// the blkio hierarchy; pod cgroups go below it.
	Parent string
}

// NewThrottle builds the table. Cleanup fails the test if groups are left
// and closes the table (after the driver stopped: cleanups run in reverse).
func NewThrottle(t *testing.T) *Throttle {
	t.Helper()
	parent := testutil.NewCgroupParentV1(t)
	backend, err := throttle.DetectBackend("/sys/fs/cgroup", nil)
	if err != nil {
		t.Fatal(err)
	}
	table, err := throttle.NewTable(throttle.Options{Backend: backend, KubeletCgroupRoot: "/" + parent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if keys := table.Keys(); len(keys) > 0 {
			t.Errorf("throttle groups left: %v", keys)
		}
		table.Close()
	})
	return &Throttle{Table: table, Backend: backend, Parent: parent}
}
