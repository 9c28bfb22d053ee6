package v1alpha1

// BurstStatus shows the group's burst credit: for each limit with a burst
// (<limit>Burst, burstSeconds), the baseline the kernel falls back to, the
// burst rate and what is left in its credit bucket.
type BurstStatus struct {
	// burstSeconds is how long a full bucket sustains the burst rate.
	// +optional
	BurstSeconds int64 `json:"burstSeconds,omitempty"`

	// balancePercent is the lowest balance over the buckets, as a
	// percentage of a full bucket (the Burst printer column).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	BalancePercent int32 `json:"balancePercent"`

	// buckets has one entry per limit with a burst.
	// +optional
	// +listType=map
	// +listMapKey=limit
	Buckets []BurstBucket `json:"buckets,omitempty"`
}

// BurstBucket is one limit's credit bucket.
type BurstBucket struct {
	// limit names the knob.
	Limit LimitName `json:"limit"`

	// baseline is the limit without credit, as computed for the volume
	// (per GiB of capacity where so configured): bytes per second or IOPS.
	Baseline int64 `json:"baseline"`

	// burstRate is the limit while the bucket has credit.
	BurstRate int64 `json:"burstRate"`

	// balancePercent is the credit left, as a percentage of a full bucket.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	BalancePercent int32 `json:"balancePercent"`

	// secondsLeft is how long the credit left sustains the burst rate.
	// +kubebuilder:validation:Minimum=0
	SecondsLeft int64 `json:"secondsLeft"`

	// state is Bursting (the kernel holds burstRate) or Baseline (the
	// bucket ran dry; it bursts again once a tenth of it is back).
	State BurstState `json:"state"`
}

// BurstState says which rate the kernel holds for a bucket's limit.
// +kubebuilder:validation:Enum=Bursting;Baseline
type BurstState string

const (
	BurstStateBursting BurstState = "Bursting"
	BurstStateBaseline BurstState = "Baseline"
)
