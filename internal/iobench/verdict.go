package iobench

import (
	"fmt"
	"math"
	"strings"
)

// The verdicts of a benchmark's targets are words a report prints: "met",
// "missed by N%" and, for a figure measured in rounds, "unresolved: ...".

// AtMost says whether got <= goal, and by how much it misses.
func AtMost(got, goal float64) string {
	if got <= goal {
		return "met"
	}
	return fmt.Sprintf("missed by %.0f%%", (got/goal-1)*100)
}

// AtLeast says whether got >= goal, and by how much it misses.
func AtLeast(got, goal float64) string {
	if got >= goal {
		return "met"
	}
	return fmt.Sprintf("missed by %.0f%%", (1-got/goal)*100)
}

// SpreadAtMost and SpreadAtLeast judge a figure measured in rounds: met or
// missed only when the interval of its median (MedianInterval: the
// rounds' whole range for up to seven rounds) lies wholly on one side of
// the goal. An interval that holds the goal is "unresolved": the rounds
// fell on both sides, and the run cannot say which side the figure is on,
// wherever its median fell (the verdict says where). On a shared disk two
// runs judged by their medians alone disagreed on exactly such figures.
// A single value is judged as it stands.
func SpreadAtMost(s Spread, goal float64) string {
	lo, hi, _ := s.MedianInterval()
	return judge(AtMost(s.Median(), goal), lo <= goal && hi > goal, lo, hi)
}

// SpreadAtLeast: see SpreadAtMost.
func SpreadAtLeast(s Spread, goal float64) string {
	lo, hi, _ := s.MedianInterval()
	return judge(AtLeast(s.Median(), goal), lo < goal && hi >= goal, lo, hi)
}

// SpreadWithin judges a figure that should lie within tolerance of goal
// (a ratio of 1 within 1%, say), as SpreadAtMost does: met when the
// interval of its median lies wholly inside the band, missed when wholly
// outside it, else unresolved.
func SpreadWithin(s Spread, goal, tolerance float64) string {
	lo, hi, _ := s.MedianInterval()
	edge := tolerance * (1 + 1e-9) // 0.99 is within 0.01 of 1, float rounding aside
	in := func(x float64) bool { return math.Abs(x-goal) <= edge }
	byMedian := "met"
	if m := s.Median(); !in(m) {
		byMedian = fmt.Sprintf("missed by %.1f%%", (math.Abs(m-goal)-tolerance)/goal*100)
	}
	return judge(byMedian, in(lo) != in(hi) || (lo < goal-edge && hi > goal+edge), lo, hi)
}

func judge(byMedian string, holdsGoal bool, lo, hi float64) string {
	if !holdsGoal {
		return byMedian
	}
	return fmt.Sprintf("unresolved: %.3g-%.3g holds the goal (median: %s)", lo, hi, byMedian)
}

// Part is one figure of a target that holds only if each of its figures
// does, with its verdict.
type Part struct{ Name, Verdict string }

// EachAtMost is the Worst of SpreadAtMost over figures named by names.
func EachAtMost(names []string, ss []Spread, goal float64) string {
	parts := make([]Part, len(ss))
	for i, s := range ss {
		parts[i] = Part{names[i], SpreadAtMost(s, goal)}
	}
	return Worst(parts...)
}

// Worst is the verdict of a target made of parts: missed if any part
// missed, else unresolved if any part is, else met; the parts that are not
// met follow in brackets.
func Worst(parts ...Part) string {
	worst := 0
	var off []string
	for _, p := range parts {
		if r := rank(p.Verdict); r > 0 {
			worst = max(worst, r)
			off = append(off, p.Name+" "+p.Verdict)
		}
	}
	v := [...]string{"met", "unresolved", "missed"}[worst]
	if len(off) > 0 {
		v += " (" + strings.Join(off, "; ") + ")"
	}
	return v
}

func rank(verdict string) int {
	switch {
	case strings.HasPrefix(verdict, "missed"):
		return 2
	case strings.HasPrefix(verdict, "unresolved"):
		return 1
	}
	return 0
}
