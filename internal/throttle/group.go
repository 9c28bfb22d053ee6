package throttle

import "time"

// Key identifies a throttle group: one (pod, volume) pair, or a volume alone
// when the publish carried no pod UID. It is comparable so that it can key
// maps and the stats worker's queue.
type Key struct {
	VolumeID string
	PodUID   string
}

func (k Key) String() string {
	if k.PodUID == "" {
		return k.VolumeID
	}
	return k.VolumeID + "/" + k.PodUID
}

// PodRef names the pod a group belongs to, as the kubelet reports it with
// podInfoOnMount. Only the Kubernetes sinks use the name and namespace.
type PodRef struct {
	UID       string
	Name      string
	Namespace string
}

// Spec is what the driver asks the throttle core to enforce for a group.
type Spec struct {
	Device Device
	Limits Limits
	Scope  Scope
	Pod    PodRef
	// LatencyTarget, when set, marks the group as protected; Elastic
	// marks its limits as work-conserving. The table only carries them:
	// the elastic controller reads them and lifts elastic groups through
	// SetLift (docs/elastic.md).
	LatencyTarget time.Duration
	Elastic       bool
}

// Phase is where a group's placement stands.
type Phase string

const (
	// PhasePending: the group exists, its stats have not been sampled yet.
	PhasePending Phase = "Pending"
	// PhaseActive: the limits sit on the cgroups the scope calls for.
	PhaseActive Phase = "Active"
	// PhaseDegraded: the pod cgroup could not be resolved; the volume-scope
	// fallback entries are in force and the worker retries placement.
	PhaseDegraded Phase = "Degraded"
)

// Stats is one sample of a group's counters, taken by the stats worker.
// Totals are monotonic for the life of the group: counts of a cgroup that
// went away are carried over, never subtracted.
type Stats struct {
	// Pending is true until the worker has installed a first sample; every
	// other field is then zero. Readers must accept that (invariant 4, 9).
	Pending bool

	SampledAt time.Time

	ReadBytes  uint64
	WriteBytes uint64
	ReadIOs    uint64
	WriteIOs   uint64

	ReadBytesPerSecond  float64
	WriteBytesPerSecond float64
	ReadIOPS            float64
	WriteIOPS           float64
}
