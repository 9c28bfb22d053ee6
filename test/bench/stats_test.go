//go:build bench

package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// quantile is the nearest-rank quantile q (0..1) of ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func medianDur(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(median(xs))
}

func ratio(x float64) string { return fmt.Sprintf("%.3f", x) }

func times(x float64) string { return fmt.Sprintf("%.2fx", x) }

func mibps(bps float64) string { return fmt.Sprintf("%.1f MiB/s", bps/float64(mib)) }

// ms renders a duration in milliseconds with sensible precision.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f ms", f)
	case f >= 10:
		return fmt.Sprintf("%.1f ms", f)
	}
	return fmt.Sprintf("%.2f ms", f)
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f us", float64(d)/float64(time.Microsecond)) }

// verdictAtMost says whether got <= goal and by how much it misses.
func verdictAtMost(got, goal float64) string {
	if got <= goal {
		return "met"
	}
	return fmt.Sprintf("missed by %.0f%%", (got/goal-1)*100)
}

// verdictAtLeast says whether got >= goal and by how much it misses.
func verdictAtLeast(got, goal float64) string {
	if got >= goal {
		return "met"
	}
	return fmt.Sprintf("missed by %.0f%%", (1-got/goal)*100)
}
