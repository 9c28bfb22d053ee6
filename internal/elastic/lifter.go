package elastic

import "github.com/csi-blkio/csi-blkio/internal/throttle"

// Lifter says what the kernel may let an elastic group do while nothing
// needs it held. It is an interface so that a volume with burst credits can
// be lifted to its burst rate instead of to no limit, without the control
// loop knowing how bursts are configured.
type Lifter interface {
	Lifted(st throttle.GroupStatus) throttle.Limits
}

// Unlimited lifts every elastic group to no limit at all: while no
// protected group needs the disk, an elastic volume may use all of it.
type Unlimited struct{}

// Lifted returns no limit.
func (Unlimited) Lifted(throttle.GroupStatus) throttle.Limits { return throttle.Limits{} }
