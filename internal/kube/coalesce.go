package kube

import (
	"maps"
	"math"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// Coalescing decides when a ThrottleGroup's status is worth a write. The
// stats worker samples every group each interval (10 s); writing each
// sample would be 6 writes per group per minute from every node, so:
//   - a change users must see at once — phase, a condition's status or
//     reason, applied limits, placement, the generation acted on, the first
//     rates — is written promptly (Saturated excepted: it is made of the
//     numbers and goes with them; the Saturated Event is prompt);
//   - new numbers alone (rates, totals, saturation) are written only when
//     MinInterval has passed since the last write made for numbers AND they
//     moved by more than the thresholds, or when MaxInterval has passed
//     since any write (so totals and lastSampleTime do not go stale).
//
// At steady state that is at most one write per MinInterval per group
// (default 1 per minute), and one per MaxInterval for a group whose rates
// hold still (a writer held at its limit, an idle volume). See due for the
// few writes a prominent change may add while the numbers settle.
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

// verdict is what Coalescing.due decides for one sample.
type verdict int

const (
	// wait: nothing worth a write.
	wait verdict = iota
	// writeProminent: a change users must see at once.
	writeProminent
	// writeNumbers: new numbers, past the minimum interval.
	writeNumbers
	// writeSettling: the numbers moved right after a prominent write.
	writeSettling
)

// settleSamples is how many samples after a prominent write may write
// their numbers at once when they moved (so at most that many writes).
const settleSamples = 3

// due decides whether next should be written, given the last written
// status (nil: never written), when it was written (lastAt), when the last
// write for numbers was (lastDataAt), and whether the numbers are settling
// after a prominent write; the string says why, for the V(4) log.
//
// Settling: the numbers a prominent write carries were sampled across the
// change (a lowered limit takes a second or two to hold while queued IO
// drains, a new container starts at zero), so for settleSamples samples
// after it the numbers are written at once whenever they moved. At steady
// state nothing is prominent, so the minimum interval bounds the writes.
func (c Coalescing) due(last *v1alpha1.ThrottleGroupStatus, lastAt, lastDataAt time.Time, next *v1alpha1.ThrottleGroupStatus, now time.Time, settling bool) (verdict, string) {
	if last == nil {
		return writeProminent, "first status"
	}
	if why := prominentChange(last, next); why != "" {
		return writeProminent, why
	}
	moved := c.ratesMoved(last.Rates, next.Rates) || saturatedFlipped(last, next) || c.burstMoved(last, next)
	if settling && moved {
		return writeSettling, "rates settling"
	}
	if settling || now.Sub(lastDataAt) < c.MinInterval {
		return wait, ""
	}
	if moved {
		return writeNumbers, "rates or saturation moved"
	}
	if d := next.SaturationPercent - last.SaturationPercent; d >= c.SaturationPoints || -d >= c.SaturationPoints {
		return writeNumbers, "saturation moved"
	}
	if now.Sub(lastAt) >= c.MaxInterval {
		return writeNumbers, "refresh"
	}
	return wait, ""
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
	case a.LimitsSource != b.LimitsSource:
		return "limits source"
	case a.Device != b.Device || a.Backend != b.Backend || a.Semantics != b.Semantics || !slices.Equal(a.Cgroups, b.Cgroups):
		return "placement"
	case (a.Rates == nil) != (b.Rates == nil):
		return "first rates"
	}
	ca, cb := conditionKeys(a), conditionKeys(b)
	if !maps.Equal(ca, cb) {
		return "conditions"
	}
	return ""
}

// conditionKeys maps each condition type to its status and reason, without
// Saturated (it goes with the numbers it is made of: see saturatedFlipped).
// Messages and times are left out: they change without news.
func conditionKeys(s *v1alpha1.ThrottleGroupStatus) map[string]string {
	m := map[string]string{}
	for _, c := range s.Conditions {
		if c.Type != v1alpha1.ConditionSaturated {
			m[c.Type] = string(c.Status) + "/" + c.Reason
		}
	}
	return m
}

// saturatedFlipped reports whether the Saturated condition changed status.
// It is derived from the numbers, so it is written with them, not at once:
// a workload that swings around 90% of its limit would otherwise cost a
// write per swing. The Saturated Event on the pod goes out at once anyway.
func saturatedFlipped(a, b *v1alpha1.ThrottleGroupStatus) bool {
	return conditionStatus(a, v1alpha1.ConditionSaturated) != conditionStatus(b, v1alpha1.ConditionSaturated)
}

func conditionStatus(s *v1alpha1.ThrottleGroupStatus, typ string) metav1.ConditionStatus {
	if c := meta.FindStatusCondition(s.Conditions, typ); c != nil {
		return c.Status
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
