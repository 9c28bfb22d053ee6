package iobench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Spread is one figure measured once per round. A report quotes its median
// with the min-max range beside it, so that a reader sees how far a busy
// machine moved the figure within the run.
type Spread []float64

// Durations is a Spread of durations, in nanoseconds.
func Durations(ds []time.Duration) Spread {
	s := make(Spread, len(ds))
	for i, d := range ds {
		s[i] = float64(d)
	}
	return s
}

// Median is the middle value (the mean of the two middle ones for an even
// count); NaN for no values.
func (s Spread) Median() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	c := slices.Clone(s)
	slices.Sort(c)
	if n := len(c); n%2 == 0 {
		return (c[n/2-1] + c[n/2]) / 2
	}
	return c[len(c)/2]
}

// Min and Max are the range's ends; NaN for no values.
func (s Spread) Min() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	return slices.Min(s)
}

func (s Spread) Max() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	return slices.Max(s)
}

// Show renders the median and, over more than one round, the range, each
// value formatted by f: "0.998 (0.991-1.002)"; "-" for no values.
func (s Spread) Show(f func(float64) string) string {
	switch len(s) {
	case 0:
		return "-"
	case 1:
		return f(s[0])
	}
	return fmt.Sprintf("%s (%s-%s)", f(s.Median()), f(s.Min()), f(s.Max()))
}

// MedianCoverage is the confidence MedianInterval aims for.
const MedianCoverage = 0.9

// MedianInterval is a confidence interval, free of any assumption about the
// values' distribution, for the median of what they sample: the k-th
// smallest to the k-th largest value, with the largest k whose interval
// holds the true median with probability at least MedianCoverage, and that
// probability (1 - 2 P(B < k), B binomial with n trials of one half).
// Under five values no interval reaches 0.9, and it is the whole range:
// 0.75 for three values, 0.875 for four. From five to seven values it is
// the whole range too (0.94-0.98); for eight and nine, the second smallest
// to the second largest (0.93, 0.96).
// NaN for no values.
func (s Spread) MedianInterval() (lo, hi, coverage float64) {
	n := len(s)
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	c := slices.Clone(s)
	slices.Sort(c)
	term := math.Pow(0.5, float64(n)) // P(B = 0)
	below := term                     // P(B < k), for k = 1
	k := 1
	for ; k < (n+1)/2; k++ {
		term *= float64(n-k+1) / float64(k) // P(B = k)
		if 1-2*(below+term) < MedianCoverage {
			break
		}
		below += term
	}
	return c[k-1], c[n-k], 1 - 2*below
}
