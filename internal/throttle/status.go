package throttle

import (
	"slices"
	"time"
)

// GroupStatus is a copy of everything known about a group; changing it
// changes nothing in the table.
type GroupStatus struct {
	Key  Key
	Spec Spec
	// Boost raises Spec.Limits while a burst has credit; the kernel holds
	// KernelLimits. Burst is the burst controller's view of the group's
	// credit buckets (nil: the group has no burst).
	Boost Limits
	Burst *BurstState
	// Phase is Degraded while the fallback placement is in force, Pending
	// until the worker installed a first sample, Active after that.
	Phase Phase
	// Incarnation tells apart groups of the same key that were removed and
	// re-created (invariant 7).
	Incarnation uint64

	// BackendVersion is the cgroup version in force (1 or 2) and Backend
	// its description; Semantics says what one budget covers for this
	// group's scope on this backend (the docs and the ThrottleGroup status
	// show it to users).
	BackendVersion int
	Backend        string
	Semantics      string

	// PodCgroup is the pod's cgroup ("" when it was not found).
	PodCgroup string
	// StatsCgroup is the cgroup whose counters make Stats.
	StatsCgroup string
	// Cgroups are the cgroups that hold an entry of this group, sorted.
	Cgroups []string
	// Placement says, in words, where the limits are and why.
	Placement string
	// Lifted is true while the elastic controller has the kernel hold Lift
	// instead of the spec's limits (see Table.SetLift).
	Lifted bool
	Lift   Limits

	Stats      Stats
	Conditions []Condition
	// Readback is what the worker last read back from the kernel for the
	// group's entries (zero until its first pass).
	Readback Readback
}

// ConditionType names something wrong with a group that users should see.
type ConditionType string

// ConditionStatsFailing: the worker gave up sampling or publishing the
// group's stats after its retry cap; it tries again at the next resync.
const ConditionStatsFailing ConditionType = "StatsFailing"

// Condition is present while it holds.
type Condition struct {
	Type    ConditionType
	Reason  string
	Message string
	Since   time.Time
}

// HasCondition reports whether the status carries a condition of type ct.
func (s GroupStatus) HasCondition(ct ConditionType) bool {
	return slices.ContainsFunc(s.Conditions, func(c Condition) bool { return c.Type == ct })
}

// semantics says what a budget covers for scope on a backend.
func semantics(version int, scope Scope, degraded bool) string {
	switch {
	case degraded && version == 1:
		return "degraded: only a root-level entry for the device (holds buffered writeback, not the pod's direct IO) until the pod cgroup is found"
	case degraded:
		return "degraded: one budget on kubepods for all IO to the device on this node until the pod cgroup is found"
	case version == 1 && scope == ScopePod:
		return "each container of the pod has its own budget (cgroup v1 is not hierarchical)"
	case version == 1:
		return "each container of each pod using the volume has its own budget, plus a root-level budget that holds buffered writeback (cgroup v1 has no aggregate)"
	case scope == ScopePod:
		return "one budget for all IO of the pod to the volume"
	}
	return "one budget for all IO to the volume on this node, buffered writeback included"
}

// KernelLimits are the limits the kernel holds for the group: the elastic
// lift while lifted, else the spec's raised by an active burst (Boost).
func (s GroupStatus) KernelLimits() Limits {
	if s.Lifted {
		return s.Lift
	}
	return Raise(s.Spec.Limits, s.Boost)
}
