package iobench

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func TestSpread(t *testing.T) {
	f := func(x float64) string { return fmt.Sprintf("%.2f", x) }
	for _, c := range []struct {
		s    Spread
		want string
		med  float64
	}{
		{nil, "-", math.NaN()},
		{Spread{1.5}, "1.50", 1.5},
		{Spread{3, 1, 2}, "2.00 (1.00-3.00)", 2},
		{Spread{4, 1, 3, 2}, "2.50 (1.00-4.00)", 2.5},
	} {
		if got := c.s.Show(f); got != c.want {
			t.Errorf("%v.Show = %q, want %q", c.s, got, c.want)
		}
		if got := c.s.Median(); got != c.med && !(math.IsNaN(got) && math.IsNaN(c.med)) {
			t.Errorf("%v.Median = %v, want %v", c.s, got, c.med)
		}
	}
	s := Spread{3, 1, 2}
	s.Median()
	if s[0] != 3 {
		t.Error("Median sorted the spread in place")
	}
	if got := Durations([]time.Duration{time.Microsecond, 3 * time.Microsecond}).Max(); got != 3000 {
		t.Errorf("Durations(...).Max = %v, want 3000", got)
	}
}

func TestRoundsRetriesThenMarks(t *testing.T) {
	// Rounds 0 and 2 are disturbed on every try; round 1 never is. Two
	// retries in all: round 0 takes both, round 2 is marked at once.
	var tries []int
	kept, marked, retried := Rounds(3, 2, func(i int) int {
		tries = append(tries, i)
		return i
	}, func(r int) bool { return r != 1 })
	if fmt.Sprint(tries) != "[0 0 0 1 2]" {
		t.Errorf("measured rounds %v, want [0 0 0 1 2]", tries)
	}
	if fmt.Sprint(kept, marked, retried) != "[1] [0 2] 2" {
		t.Errorf("kept %v marked %v retried %d, want [1] [0 2] 2", kept, marked, retried)
	}
}

func TestRoundsKeepsARetriedRoundThatRecovers(t *testing.T) {
	n := 0
	kept, marked, retried := Rounds(2, 3, func(i int) int {
		n++
		return n
	}, func(r int) bool { return r == 1 }) // only the very first try is disturbed
	if fmt.Sprint(kept, marked, retried) != "[2 3] [] 1" {
		t.Errorf("kept %v marked %v retried %d, want [2 3] [] 1", kept, marked, retried)
	}
}

func TestReferenceFlagsABaselineFarUnderItsUsualLevel(t *testing.T) {
	// The victim alone's IOPS in one bench run: two aggressor kinds on a
	// quiet disk, then a third whose first three rounds met a slow disk.
	quiet := []float64{11795, 9784, 12001, 10552, 9689, 11168, 11534, 13739, 11347, 10381}
	slow := []float64{7359, 5929, 6195}
	shared := Reference{Fraction: 0.7}
	for _, x := range quiet {
		if shared.Disturbed(x) {
			t.Fatalf("%v IOPS on a quiet disk judged disturbed", x)
		}
	}
	for _, x := range slow {
		if !shared.Disturbed(x) {
			t.Errorf("%v IOPS on a slow disk passed as undisturbed (usual ~11k)", x)
		}
	}
	// A reference of the third kind's rounds alone takes its first slow
	// round as the norm, and lets the next ones pass: why one Reference
	// serves every section.
	fresh := Reference{Fraction: 0.7}
	var flagged []bool
	for _, x := range slow {
		flagged = append(flagged, fresh.Disturbed(x))
	}
	if fmt.Sprint(flagged) != "[false false false]" {
		t.Errorf("a fresh reference flagged %v, want [false false false]", flagged)
	}
}

func TestMedianIntervalTakesTheOrderStatisticsOfItsCoverage(t *testing.T) {
	for _, c := range []struct {
		s        Spread
		lo, hi   float64
		coverage float64
	}{
		{Spread{3, 1, 2}, 1, 3, 0.75},
		{Spread{4, 1, 3, 2}, 1, 4, 0.875},
		{Spread{5, 1, 3, 2, 4}, 1, 5, 0.9375},
		{Spread{7, 1, 3, 2, 4, 6, 5}, 1, 7, 0.984375},
		{Spread{8, 1, 3, 2, 4, 6, 5, 7}, 2, 7, 0.9296875},
		{Spread{9, 1, 3, 2, 4, 6, 5, 7, 8}, 2, 8, 0.9609375},
		// Eleven, as hack/bench takes of BenchmarkEnsure: the two highest
		// and the two lowest rounds left out.
		{Spread{11, 1, 10, 2, 9, 3, 8, 4, 7, 5, 6}, 3, 9, 0.9345703125},
		// 20 values: k = 6 holds 0.9586, k = 7 only 0.8847.
		{Spread{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 6, 15, 0.9586105346679688},
	} {
		lo, hi, cov := c.s.MedianInterval()
		if lo != c.lo || hi != c.hi || math.Abs(cov-c.coverage) > 1e-12 {
			t.Errorf("%v.MedianInterval() = %v, %v, %v; want %v, %v, %v", c.s, lo, hi, cov, c.lo, c.hi, c.coverage)
		}
	}
	if lo, hi, cov := Spread(nil).MedianInterval(); !math.IsNaN(lo) || !math.IsNaN(hi) || !math.IsNaN(cov) {
		t.Errorf("no values: %v, %v, %v; want NaNs", lo, hi, cov)
	}
}
