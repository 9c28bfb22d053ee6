package demo

import (
	"math"
	"time"
)

// latencyStep is the width of a latencyHist bucket: each bucket's upper
// edge is 2% above its lower one, so a percentile is off by at most 2%.
const latencyStep = 1.02

// latencyBuckets covers 1 ns to 1.02^1200 ns (~20 s); longer ops count in
// the last bucket.
const latencyBuckets = 1200

// latencyHist counts op latencies in buckets 2% wide: percentiles over
// minutes of IO at tens of thousands of ops a second in fixed memory.
type latencyHist struct {
	counts [latencyBuckets]uint64
	n      uint64
}

func (h *latencyHist) add(d time.Duration) {
	i := 0
	if d > 1 {
		i = min(int(math.Log(float64(d))/math.Log(latencyStep)), latencyBuckets-1)
	}
	h.counts[i]++
	h.n++
}

// quantile returns the upper edge of the bucket holding the q-quantile
// (nearest rank), 0 when nothing was counted.
func (h *latencyHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	var cum uint64
	for i, c := range h.counts {
		if cum += c; cum >= rank {
			return time.Duration(math.Pow(latencyStep, float64(i+1)))
		}
	}
	return time.Duration(math.Pow(latencyStep, latencyBuckets))
}

// formatLatency renders a latency for the story: "85 us", "1.23 ms".
func formatLatency(d time.Duration) string {
	if d < time.Millisecond {
		return sigfig(float64(d)/float64(time.Microsecond)) + " us"
	}
	return sigfig(float64(d)/float64(time.Millisecond)) + " ms"
}
