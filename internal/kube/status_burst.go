package kube

import (
	"math"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// burstStatus renders the burst controller's buckets (nil: no burst).
func burstStatus(b *throttle.BurstState) *v1alpha1.BurstStatus {
	if b == nil || len(b.Buckets) == 0 {
		return nil
	}
	out := &v1alpha1.BurstStatus{BurstSeconds: clampInt64(b.Seconds), BalancePercent: 100}
	for _, k := range b.Buckets {
		pct := int32(math.Floor(100 * k.Ratio()))
		state := v1alpha1.BurstStateBaseline
		if k.Bursting {
			state = v1alpha1.BurstStateBursting
		}
		out.Buckets = append(out.Buckets, v1alpha1.BurstBucket{
			Limit: v1alpha1.LimitName(k.Knob), Baseline: clampInt64(k.Baseline), BurstRate: clampInt64(k.Rate),
			BalancePercent: pct, SecondsLeft: int64(math.Floor(k.SecondsLeft())), State: state,
		})
		out.BalancePercent = min(out.BalancePercent, pct)
	}
	return out
}

// burstMoved reports whether the balance moved enough to be worth a write
// with the numbers (the same points as saturation). A switch between burst
// and baseline needs no test here: it changes appliedLimits, which is
// written at once.
func (c Coalescing) burstMoved(a, b *v1alpha1.ThrottleGroupStatus) bool {
	if (a.Burst == nil) != (b.Burst == nil) {
		return true
	}
	if a.Burst == nil {
		return false
	}
	d := a.Burst.BalancePercent - b.Burst.BalancePercent
	return d >= c.SaturationPoints || -d >= c.SaturationPoints
}
