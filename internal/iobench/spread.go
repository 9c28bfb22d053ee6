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
