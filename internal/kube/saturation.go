package kube

import (
	"fmt"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// Saturation is how close a group runs to its limits: the highest
// rate/limit ratio over the knobs that are limited.
type Saturation struct {
	// Ratio is observed/limit of Knob (0 when nothing is limited).
	Ratio float64
	Knob  v1alpha1.LimitName
}

// SaturationOf computes the saturation of one sample's rates.
func SaturationOf(l throttle.Limits, s throttle.Stats) Saturation {
	var out Saturation
	for _, k := range []struct {
		name  v1alpha1.LimitName
		limit uint64
		rate  float64
	}{
		{v1alpha1.LimitReadBytesPerSecond, l.ReadBytesPerSecond, s.ReadBytesPerSecond},
		{v1alpha1.LimitWriteBytesPerSecond, l.WriteBytesPerSecond, s.WriteBytesPerSecond},
		{v1alpha1.LimitReadIOPS, l.ReadIOPS, s.ReadIOPS},
		{v1alpha1.LimitWriteIOPS, l.WriteIOPS, s.WriteIOPS},
	} {
		if k.limit == 0 {
			continue
		}
		if r := k.rate / float64(k.limit); r > out.Ratio {
			out = Saturation{Ratio: r, Knob: k.name}
		}
	}
	return out
}

func (s Saturation) String() string {
	return fmt.Sprintf("%s at %.0f%% of its limit", s.Knob, 100*s.Ratio)
}

// episodes tracks saturation episodes of one group: an episode starts when
// the group ran at >= Threshold of a limit for Samples samples in a row, and
// ends when it ran below Threshold for Samples samples in a row. The same
// count on the way out is hysteresis: a writer hovering around 90% starts
// one episode, not one per sample that crosses the line.
type episodes struct {
	threshold float64
	samples   int

	in           bool
	above, below int
	last         Saturation // the sample that started the episode
}

func newEpisodes(threshold float64, samples int) *episodes {
	return &episodes{threshold: threshold, samples: samples}
}

// observe folds in one sample's saturation and reports whether an episode
// started (emit the Event, once) or ended with it.
func (e *episodes) observe(s Saturation) (started, ended bool) {
	if s.Ratio >= e.threshold {
		e.above++
		e.below = 0
	} else {
		e.below++
		e.above = 0
	}
	switch {
	case !e.in && e.above >= e.samples:
		e.in, e.last = true, s
		return true, false
	case e.in && e.below >= e.samples:
		e.in = false
		return false, true
	}
	return false, false
}

// active reports whether an episode is running, and the saturation that
// started it.
func (e *episodes) active() (bool, Saturation) { return e.in, e.last }
