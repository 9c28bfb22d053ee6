package driver

import (
	"context"

	"github.com/csi-blkio/csi-blkio/pkg/throttle"
)

// Throttler is the part of the throttle core (*throttle.Table) the driver
// uses. Defining it here keeps the driver testable with a small fake and
// documents exactly what the publish path depends on.
type Throttler interface {
	// Ensure places (or confirms) a group's kernel limits before it returns.
	Ensure(ctx context.Context, key throttle.Key, spec throttle.Spec) (throttle.Phase, error)
	// Update changes a group's limits live.
	Update(key throttle.Key, limits throttle.Limits) error
	// Remove lifts a group's limits and forgets it; removing an unknown
	// group succeeds.
	Remove(key throttle.Key) error
}
