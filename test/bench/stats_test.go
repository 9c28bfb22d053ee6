//go:build bench

package bench

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

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

// ratio renders a ratio; "n/a" when its baseline read zero (a round
// whose disk delivered nothing in the window).
func ratio(x float64) string {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", x)
}

func times(x float64) string { return fmt.Sprintf("%.2fx", x) }

// mibpsF renders bytes/s in MiB/s without the unit, for a spread:
// "1305.2 (1290.1-1311.0)".
func mibpsF(bps float64) string { return fmt.Sprintf("%.1f", bps/float64(mib)) }

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

// victimVerdict judges a victim beside a held aggressor, its ratios to the
// victim alone taken in each round: at least 0.9 of its IOPS alone and its
// p99 at most 1.5x alone.
func victimVerdict(iops, p99 spread) string {
	return iobench.Worst(iobench.Part{Name: "IOPS", Verdict: iobench.SpreadAtLeast(iops, 0.9)},
		iobench.Part{Name: "p99", Verdict: iobench.SpreadAtMost(p99, 1.5)})
}

// spread is one figure measured once per round: its median, with the
// min-max range beside it in the report.
type spread = iobench.Spread

func durSpread(ds []time.Duration) spread { return iobench.Durations(ds) }

func usF(ns float64) string { return us(time.Duration(ns)) }
