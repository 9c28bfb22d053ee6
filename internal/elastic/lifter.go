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

// BurstOrUnlimited lifts a limit that has a burst (<L>Burst) to its burst
// rate, and every other limit to no limit: a volume sold with a burst
// ceiling keeps that ceiling while it is lifted. While lifted the burst
// controller still counts the volume's credit; once the group is held again
// the bucket decides between the burst rate and the baseline.
type BurstOrUnlimited struct{}

// Lifted returns the burst rates of the group's buckets, no limit elsewhere.
func (BurstOrUnlimited) Lifted(st throttle.GroupStatus) throttle.Limits {
	var l throttle.Limits
	if st.Burst == nil {
		return l
	}
	for _, b := range st.Burst.Buckets {
		switch b.Knob {
		case "readBytesPerSecond":
			l.ReadBytesPerSecond = b.Rate
		case "writeBytesPerSecond":
			l.WriteBytesPerSecond = b.Rate
		case "readIOPS":
			l.ReadIOPS = b.Rate
		case "writeIOPS":
			l.WriteIOPS = b.Rate
		}
	}
	return l
}
