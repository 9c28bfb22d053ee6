package kube

import (
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// TestSinkBurst: the status shows the burst buckets and the balance, the
// applied limits are what the kernel holds (the burst rate while the bucket
// has credit), and the pod hears once when a bucket runs dry and once when
// it is full again.
func TestSinkBurst(t *testing.T) {
	r := newSinkRig(t, testUID)
	const base, rate = 8 << 20, 40 << 20
	bucket := func(balance float64, bursting, full bool) *throttle.BurstState {
		return &throttle.BurstState{Seconds: 5, Buckets: []throttle.Bucket{{
			Knob: "writeBytesPerSecond", Baseline: base, Rate: rate, Capacity: 160 << 20, Balance: balance,
			Bursting: bursting, Empty: !bursting, Full: full,
		}}}
	}
	r.st.Spec.Limits = throttle.Limits{WriteBytesPerSecond: base}
	r.st.Boost = throttle.Limits{WriteBytesPerSecond: rate}
	r.st.Burst = bucket(160<<20, true, true)
	r.step(t, rate)
	st := r.tgs.only(t).Status
	if st.AppliedLimits == nil || st.AppliedLimits.WriteBytesPerSecond.String() != "40Mi" {
		t.Errorf("appliedLimits while bursting = %+v, want the burst rate", st.AppliedLimits)
	}
	want := v1alpha1.BurstBucket{Limit: "writeBytesPerSecond", Baseline: base, BurstRate: rate, BalancePercent: 100, SecondsLeft: 5, State: v1alpha1.BurstStateBursting}
	if st.Burst == nil || st.Burst.BalancePercent != 100 || st.Burst.BurstSeconds != 5 || len(st.Burst.Buckets) != 1 || st.Burst.Buckets[0] != want {
		t.Errorf("burst status = %+v, want %+v", st.Burst, want)
	}
	for _, e := range r.events() {
		if strings.Contains(e, "Burst") {
			t.Errorf("a full bucket at the start is not news: %q", e)
		}
	}

	r.st.Boost = throttle.Limits{}
	r.st.Burst = bucket(4<<20, false, false)
	r.step(t, base)
	r.step(t, base)
	st = r.tgs.only(t).Status // prompt: the applied limits changed
	if st.AppliedLimits.WriteBytesPerSecond.String() != "8Mi" || st.Burst.BalancePercent != 2 || st.Burst.Buckets[0].State != v1alpha1.BurstStateBaseline {
		t.Errorf("status after the bucket ran dry: applied %+v burst %+v", st.AppliedLimits, st.Burst)
	}
	ev := r.events()
	if len(ev) != 1 || ev[0] != "Normal BurstCreditSpent Volume blkio-abc: writeBytesPerSecond burst credit spent; held to its baseline 8Mi/s until a tenth of the bucket is back (burst 40Mi/s)" {
		t.Errorf("events when the bucket ran dry: %q", ev)
	}

	r.st.Boost = throttle.Limits{WriteBytesPerSecond: rate}
	r.st.Burst = bucket(100<<20, true, false)
	r.step(t, 0)
	r.st.Burst = bucket(160<<20, true, true)
	r.step(t, 0)
	r.step(t, 0)
	ev = r.events()
	if len(ev) != 1 || ev[0] != "Normal BurstCreditFull Volume blkio-abc: writeBytesPerSecond burst credit full again: 5 s at 40Mi/s" {
		t.Errorf("events when the bucket refilled: %q", ev)
	}
}
