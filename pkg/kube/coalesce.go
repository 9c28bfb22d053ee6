package kube

import (
	"math"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// Coalescing decides when a ThrottleGroup's status is worth a write. The
// stats worker samples every group each interval (10 s); writing each
// sample would be 6 writes per group per minute from every node, so:
//   - a change users must see at once — phase, a condition's status or
//     reason, applied limits, placement, the generation acted on, the first
//     rates — is written promptly;
//   - new numbers alone (rates, totals, saturation) are written only when
//     MinInterval has passed since the last write AND they moved by more
//     than the thresholds, or when MaxInterval has passed (so totals and
//     lastSampleTime do not go stale forever).
//
// At steady state that is at most one write per MinInterval per group
// (default 1 per minute), and one per MaxInterval for a group whose rates
// hold still (a writer held at its limit, an idle volume). See due for the
// one write a prominent change may add.
type Coalescing struct {
	MinInterval time.Duration
	MaxInterval time.Duration
	// RateChange is the relative change of a rate that counts as moved
	// (0.1 = 10%); changes below the absolute floors never count.
	RateChange float64
	// SaturationPoints is the change of saturationPercent that counts.
	SaturationPoints int32
}

// DefaultCoalescing is what a node uses.
func DefaultCoalescing() Coalescing {
	return Coalescing{MinInterval: time.Minute, MaxInterval: 5 * time.Minute, RateChange: 0.1, SaturationPoints: 10}
}

// Rates below these floors are noise (a few 4 KiB IOs, an fsync) and do not
// make a write on their own.
const (
	byteRateFloor = 64 << 10
	iopsFloor     = 8
)

// due reports whether next should be written, given the last written
// status (nil: never written), when it was written (lastAt) and when the
// last write made for new numbers was (lastDataAt), and why (for the V(4)
// log); prominent says the write is for a change users must see at once.
//
// MinInterval counts from the last write made for numbers, not from a
// prominent one: the numbers a prominent write carries were sampled before
// the change (a new limit, a new container) took effect, so the first
// numbers after it may follow at once. Each prominent change costs at most
// one such extra write; at steady state there are none.
func (c Coalescing) due(last *v1alpha1.ThrottleGroupStatus, lastAt, lastDataAt time.Time, next *v1alpha1.ThrottleGroupStatus, now time.Time) (ok bool, why string, prominent bool) {
	if last == nil {
		return true, "first status", false
	}
	if why := prominentChange(last, next); why != "" {
		return true, why, true
	}
	if now.Sub(lastDataAt) < c.MinInterval {
		return false, "", false
	}
	if c.ratesMoved(last.Rates, next.Rates) {
		return true, "rates moved", false
	}
	if d := next.SaturationPercent - last.SaturationPercent; d >= c.SaturationPoints || -d >= c.SaturationPoints {
		return true, "saturation moved", false
	}
	if now.Sub(lastAt) >= c.MaxInterval {
		return true, "refresh", false
	}
	return false, "", false
}

// prominentChange names the first change that must go out at once, "" if
// none.
func prominentChange(a, b *v1alpha1.ThrottleGroupStatus) string {
	switch {
	case a.Phase != b.Phase:
		return "phase"
	case a.ObservedGeneration != b.ObservedGeneration:
		return "observed generation"
	case !equality.Semantic.DeepEqual(a.AppliedLimits, b.AppliedLimits):
		return "applied limits"
	case a.Device != b.Device || a.Backend != b.Backend || a.Semantics != b.Semantics || !slices.Equal(a.Cgroups, b.Cgroups):
		return "placement"
	case (a.Rates == nil) != (b.Rates == nil):
		return "first rates"
	}
	if len(a.Conditions) != len(b.Conditions) {
		return "conditions"
	}
	for _, cb := range b.Conditions {
		i := slices.IndexFunc(a.Conditions, func(ca metav1.Condition) bool { return ca.Type == cb.Type })
		if i < 0 || a.Conditions[i].Status != cb.Status || a.Conditions[i].Reason != cb.Reason {
			return "condition " + cb.Type
		}
	}
	return ""
}

// ratesMoved reports whether any rate moved by more than the relative
// threshold and its floor (a start from idle or a stop counts).
func (c Coalescing) ratesMoved(a, b *v1alpha1.Rates) bool {
	if a == nil || b == nil {
		return a != b
	}
	moved := func(x, y int64, floor float64) bool {
		d := math.Abs(float64(y - x))
		return d > floor && d > c.RateChange*math.Max(float64(x), float64(y))
	}
	return moved(a.ReadBytesPerSecond, b.ReadBytesPerSecond, byteRateFloor) ||
		moved(a.WriteBytesPerSecond, b.WriteBytesPerSecond, byteRateFloor) ||
		moved(a.ReadIOPS, b.ReadIOPS, iopsFloor) ||
		moved(a.WriteIOPS, b.WriteIOPS, iopsFloor)
}
