package elastic

import (
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

func TestBurstOrUnlimitedLiftsToTheBurstRate(t *testing.T) {
	st := throttle.GroupStatus{Burst: &throttle.BurstState{Seconds: 5, Buckets: []throttle.Bucket{
		{Knob: "writeBytesPerSecond", Baseline: 8 << 20, Rate: 40 << 20},
		{Knob: "readIOPS", Baseline: 100, Rate: 3000},
	}}}
	got := BurstOrUnlimited{}.Lifted(st)
	want := throttle.Limits{WriteBytesPerSecond: 40 << 20, ReadIOPS: 3000}
	if got != want {
		t.Errorf("lifted %+v, want %+v", got, want)
	}
	if got := (BurstOrUnlimited{}).Lifted(throttle.GroupStatus{}); !got.IsUnlimited() {
		t.Errorf("a group without a burst lifted to %+v, want no limit", got)
	}
}
