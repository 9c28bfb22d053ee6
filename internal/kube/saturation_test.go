package kube

import (
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

func TestSaturationOfPicksTheTightestLimitedKnob(t *testing.T) {
	l := throttle.Limits{WriteBytesPerSecond: 10 << 20, ReadIOPS: 100}
	s := SaturationOf(l, throttle.Stats{WriteBytesPerSecond: 5 << 20, ReadIOPS: 95, ReadBytesPerSecond: 1 << 30})
	if s.Knob != v1alpha1.LimitReadIOPS || s.Ratio != 0.95 {
		t.Errorf("saturation = %+v, want readIOPS at 0.95 (read bytes are unlimited and do not count)", s)
	}
	if s := SaturationOf(throttle.Limits{}, throttle.Stats{WriteIOPS: 1e6}); s.Ratio != 0 || s.Knob != "" {
		t.Errorf("unlimited group saturation = %+v, want none", s)
	}
}

// TestSaturationEpisodes: >= 90% for 3 samples in a row starts one episode
// (one Event), dips that do not last 3 samples do not end it, 3 samples
// below end it, and the next 3 above start a second one.
func TestSaturationEpisodes(t *testing.T) {
	e := newEpisodes(0.9, 3)
	type step struct {
		ratio          float64
		started, ended bool
	}
	steps := []step{
		{0.95, false, false},
		{0.99, false, false},
		{0.50, false, false}, // streak broken before 3
		{0.90, false, false},
		{0.91, false, false},
		{1.00, true, false},  // 3 in a row: episode starts
		{0.97, false, false}, // still the same episode: no second Event
		{0.10, false, false},
		{0.10, false, false},
		{0.95, false, false}, // a dip of 2 does not end it
		{0.10, false, false},
		{0.10, false, false},
		{0.10, false, true}, // 3 below: over
		{0.10, false, false},
		{0.92, false, false},
		{0.93, false, false},
		{0.94, true, false}, // a new episode
	}
	starts := 0
	for i, s := range steps {
		started, ended := e.observe(Saturation{Ratio: s.ratio, Knob: v1alpha1.LimitWriteBytesPerSecond})
		if started != s.started || ended != s.ended {
			t.Fatalf("sample %d (%.2f): started=%v ended=%v, want %v %v", i, s.ratio, started, ended, s.started, s.ended)
		}
		if started {
			starts++
		}
	}
	if in, last := e.active(); !in || last.Ratio != 0.94 {
		t.Errorf("active = %v %+v, want the second episode started at 0.94", in, last)
	}
	if starts != 2 {
		t.Errorf("%d episodes, want 2", starts)
	}
}
