package elastic

import (
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// GroupState is what the controller says about one protected or elastic
// group; the ThrottleGroup status and the metrics show it.
type GroupState struct {
	// Protected groups have a latency target; elastic groups give way to
	// them. A group is never both (params refuses it).
	Protected bool
	Target    time.Duration
	Elastic   bool
	// Disk is the disk that holds the volume's backing file ("" when it
	// could not be found: see Reason).
	Disk string
	// Held: the kernel holds the elastic group's spec limits; otherwise
	// they are lifted. For a protected group, whether its disk's elastic
	// groups are held.
	Held   bool
	Since  time.Time
	Reason string
	// Latency is a protected group's mean IO time on its own device over
	// the last period in which it did IO (what its target is checked
	// against).
	Latency time.Duration
	// DiskLatency is the mean time of the IOs the disk completed in the
	// last control period (0 when it completed none).
	DiskLatency time.Duration
	// HeldTime is how long the group has been held in total (elastic
	// groups), Holds how often it was held after being lifted, and
	// LastReaction how long the last hold took from the start of the
	// control period in which the target was missed to the limits being
	// in the kernel.
	HeldTime     time.Duration
	Holds        uint64
	LastReaction time.Duration
}

// Observer is told about holds as they happen, for the reaction-time
// histogram; the controller's snapshot has the rest.
type Observer interface {
	Held(disk throttle.Device, reaction time.Duration)
}

type nopObserver struct{}

func (nopObserver) Held(throttle.Device, time.Duration) {}
