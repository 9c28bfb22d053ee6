package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ThrottleGroupStatus mirrors the group as the node's csi-blkio last saw it:
// where its limits sit in the kernel and what the stats worker measured.
// Only the plugin writes it, through the status subresource, coalesced.
type ThrottleGroupStatus struct {
	// observedGeneration is the metadata.generation of the spec the plugin
	// last acted on (applied, or refused with InvalidSpec).
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase: Pending (placed, no stats sample yet), Active (limits on every
	// cgroup the scope calls for), Degraded (the pod cgroup could not be
	// resolved; volume-scope fallback entries hold the IO and the plugin
	// retries placement).
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// backend is the kernel interface in force on the node.
	// +optional
	Backend Backend `json:"backend,omitempty"`

	// semantics says in one sentence what the scope means with this backend,
	// e.g. that cgroup v1 gives each container its own budget.
	// +optional
	Semantics string `json:"semantics,omitempty"`

	// cgroups are the cgroup directories (relative to the cgroup root) that
	// carry the group's limits: one on v2, one per container on v1, plus
	// the root for volume scope on v1.
	// +optional
	// +listType=atomic
	Cgroups []string `json:"cgroups,omitempty"`

	// device is the major:minor of the volume's loop device.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9]+:[0-9]+$`
	Device string `json:"device,omitempty"`

	// appliedLimits are the limits in the kernel now. They differ from
	// spec.limits while an edit is being applied or after it was refused,
	// and while an elastic group is lifted.
	// +optional
	AppliedLimits *Limits `json:"appliedLimits,omitempty"`

	// protection says how the group takes part in latency protection
	// (the volume's latencyTarget and elastic parameters); absent when it
	// does not.
	// +optional
	Protection *Protection `json:"protection,omitempty"`
	// limitsSource names the channel that set appliedLimits: StorageClass
	// (the volume's parameters), VolumeAttributes (an inline volume's),
	// VolumeAttributesClass (the class chosen on the claim), or
	// ThrottleGroup (an edit of this object's spec.limits). The newest
	// change wins: a class change replaces a ThrottleGroup edit and
	// rewrites spec.limits; a later edit wins for its pod until the next
	// class change.
	// +optional
	// +kubebuilder:validation:Enum=StorageClass;VolumeAttributes;VolumeAttributesClass;ThrottleGroup
	LimitsSource string `json:"limitsSource,omitempty"`

	// rates are the observed rates over the last sample interval.
	// +optional
	Rates *Rates `json:"rates,omitempty"`

	// totals are the group's counters since it was created; monotonic.
	// +optional
	Totals *Totals `json:"totals,omitempty"`

	// saturationPercent is the observed rate as a percentage of its limit,
	// the highest over the knobs that are limited (0 when none is).
	// +optional
	// +kubebuilder:validation:Minimum=0
	SaturationPercent int32 `json:"saturationPercent,omitempty"`

	// saturatedLimit names the knob saturationPercent was computed from.
	// +optional
	SaturatedLimit LimitName `json:"saturatedLimit,omitempty"`

	// burst is the burst credit of the limits that have a burst.
	// +optional
	Burst *BurstStatus `json:"burst,omitempty"`

	// lastSampleTime is when the stats worker took the sample shown.
	// +optional
	LastSampleTime *metav1.Time `json:"lastSampleTime,omitempty"`

	// conditions: LimitsApplied, Degraded, StatsFailing, Saturated, InvalidSpec.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// Protection is a group's part in latency protection: a protected group
// has a latency target; an elastic group's limits hold only while a
// protected group on the same disk is active and misses its target.
type Protection struct {
	// role is Protected (the volume sets latencyTarget) or Elastic (the
	// volume sets elastic: "true").
	Role ProtectionRole `json:"role"`

	// latencyTarget of a protected group.
	// +optional
	LatencyTarget *metav1.Duration `json:"latencyTarget,omitempty"`

	// state of an elastic group: Held (spec.limits are in the kernel) or
	// Lifted (appliedLimits are what it may use while no protected group
	// needs the disk).
	// +optional
	State ElasticState `json:"state,omitempty"`
}

// ProtectionRole is a group's role in latency protection.
// +kubebuilder:validation:Enum=Protected;Elastic
type ProtectionRole string

const (
	RoleProtected ProtectionRole = "Protected"
	RoleElastic   ProtectionRole = "Elastic"
)

// ElasticState is whether an elastic group's limits are in force.
// +kubebuilder:validation:Enum=Held;Lifted
type ElasticState string

const (
	ElasticHeld   ElasticState = "Held"
	ElasticLifted ElasticState = "Lifted"
)

// Rates are observed per-second rates, rounded to whole units.
type Rates struct {
	// +kubebuilder:validation:Minimum=0
	ReadBytesPerSecond int64 `json:"readBytesPerSecond"`
	// +kubebuilder:validation:Minimum=0
	WriteBytesPerSecond int64 `json:"writeBytesPerSecond"`
	// +kubebuilder:validation:Minimum=0
	ReadIOPS int64 `json:"readIOPS"`
	// +kubebuilder:validation:Minimum=0
	WriteIOPS int64 `json:"writeIOPS"`
}

// Totals are counters since the group was created. Operations, not
// "IOs": kubectl describe would print "Read I Os".
type Totals struct {
	// +kubebuilder:validation:Minimum=0
	ReadBytes int64 `json:"readBytes"`
	// +kubebuilder:validation:Minimum=0
	WriteBytes int64 `json:"writeBytes"`
	// +kubebuilder:validation:Minimum=0
	ReadOperations int64 `json:"readOperations"`
	// +kubebuilder:validation:Minimum=0
	WriteOperations int64 `json:"writeOperations"`
}

// Phase is where a group's placement stands.
// +kubebuilder:validation:Enum=Pending;Active;Degraded
type Phase string

const (
	PhasePending  Phase = "Pending"
	PhaseActive   Phase = "Active"
	PhaseDegraded Phase = "Degraded"
)

// Backend is the kernel interface that enforces the limits.
// +kubebuilder:validation:Enum="cgroup v1";"cgroup v2"
type Backend string

const (
	// BackendV1: blkio.throttle.* files; not hierarchical, per-cgroup budgets.
	BackendV1 Backend = "cgroup v1"
	// BackendV2: io.max; hierarchical, one budget for the cgroup subtree.
	BackendV2 Backend = "cgroup v2"
)

// LimitName names one of the four knobs, as spelled in Limits.
// +kubebuilder:validation:Enum=readBytesPerSecond;writeBytesPerSecond;readIOPS;writeIOPS
type LimitName string

const (
	LimitReadBytesPerSecond  LimitName = "readBytesPerSecond"
	LimitWriteBytesPerSecond LimitName = "writeBytesPerSecond"
	LimitReadIOPS            LimitName = "readIOPS"
	LimitWriteIOPS           LimitName = "writeIOPS"
)

// Condition types of a ThrottleGroup.
const (
	// ConditionLimitsApplied is True when spec.limits are in the kernel for
	// every cgroup the scope calls for.
	ConditionLimitsApplied = "LimitsApplied"
	// ConditionDegraded is True while the pod cgroup cannot be resolved and
	// the volume-scope fallback holds the IO.
	ConditionDegraded = "Degraded"
	// ConditionStatsFailing is True when reading the group's counters failed
	// past the stats worker's retry cap; the rates shown are stale.
	ConditionStatsFailing = "StatsFailing"
	// ConditionSaturated is True when a knob ran at >= 90% of its limit for
	// several samples in a row.
	ConditionSaturated = "Saturated"
	// ConditionInvalidSpec is True when the last edit of spec.limits was
	// refused; appliedLimits keep the previous limits.
	ConditionInvalidSpec = "InvalidSpec"
)
