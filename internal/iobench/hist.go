package iobench

import (
	"math"
	"time"
)

// histStep is the width of a Hist bucket: each bucket's upper edge is 2%
// above its lower one, so a quantile is off by at most 2%.
const histStep = 1.02

// histBuckets covers 1 ns to 1.02^1200 ns (~20 s); longer ops count in the
// last bucket.
const histBuckets = 1200

// Hist counts op latencies in buckets 2% wide: quantiles over minutes of
// IO at tens of thousands of ops a second, in fixed memory and without a
// sort. The zero value is empty and ready.
type Hist struct {
	counts [histBuckets]uint64
	n      uint64
}

// Add counts one op that took d.
func (h *Hist) Add(d time.Duration) {
	i := 0
	if d > 1 {
		i = min(int(math.Log(float64(d))/math.Log(histStep)), histBuckets-1)
	}
	h.counts[i]++
	h.n++
}

// Count is how many ops were added.
func (h *Hist) Count() uint64 { return h.n }

// Quantile returns the upper edge of the bucket holding the q-quantile
// (nearest rank): never below the true value, at most 2% above it. It is 0
// when nothing was counted.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	var cum uint64
	for i, c := range h.counts {
		if cum += c; cum >= rank {
			return time.Duration(math.Pow(histStep, float64(i+1)))
		}
	}
	return time.Duration(math.Pow(histStep, histBuckets))
}
