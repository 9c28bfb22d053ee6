package driver

import (
	"context"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Throttler is the part of the throttle core (*throttle.Table) the driver
// uses. Defining it here keeps the driver testable with a small fake and
// documents exactly what the publish path depends on.
type Throttler interface {
	// Ensure places (or confirms) a group's kernel limits before it returns.
	Ensure(ctx context.Context, key throttle.Key, spec throttle.Spec) (throttle.Phase, error)
	// Update changes a group's limits live.
	Update(ctx context.Context, key throttle.Key, limits throttle.Limits) error
	// Remove lifts a group's limits and forgets it; removing an unknown
	// group succeeds.
	Remove(ctx context.Context, key throttle.Key) error
	// Get returns a copy of a group's status (placement, cgroups, stats).
	Get(key throttle.Key) (throttle.GroupStatus, bool)
}

// KernelReader reads back the limits the kernel holds for a device on one
// cgroup; throttle.Backend satisfies it. NodeGetVolumeHealth uses it to
// check that the limits the table believes in are really in the kernel.
type KernelReader interface {
	ReadLimits(dir string, dev throttle.Device) (throttle.Limits, error)
}
