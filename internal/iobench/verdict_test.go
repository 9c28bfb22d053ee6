package iobench

import "testing"

func TestSpreadVerdictsNeedTheIntervalOnOneSide(t *testing.T) {
	for _, c := range []struct {
		name string
		got  string
		want string
	}{
		{"at most, all rounds under", SpreadAtMost(Spread{1.1, 1.3, 1.2}, 1.5), "met"},
		{"at most, all rounds over", SpreadAtMost(Spread{1.6, 2.0, 1.8}, 1.5), "missed by 20%"},
		{"at most, rounds on both sides, median under", SpreadAtMost(Spread{1.44, 1.45, 2.28}, 1.5),
			"unresolved: 1.44-2.28 holds the goal (median: met)"},
		{"at most, rounds on both sides, median over", SpreadAtMost(Spread{1.45, 1.72, 2.79}, 1.5),
			"unresolved: 1.45-2.79 holds the goal (median: missed by 15%)"},
		{"at most, a round on the goal", SpreadAtMost(Spread{1.2, 1.4, 1.5}, 1.5), "met"},
		{"at least, all rounds over", SpreadAtLeast(Spread{0.98, 1.0, 1.04}, 0.97), "met"},
		{"at least, all rounds under", SpreadAtLeast(Spread{0.85, 0.9, 0.95}, 0.97), "missed by 7%"},
		{"at least, rounds on both sides", SpreadAtLeast(Spread{0.854, 0.892, 0.994}, 0.97),
			"unresolved: 0.854-0.994 holds the goal (median: missed by 8%)"},
		{"at least, a round on the goal", SpreadAtLeast(Spread{0.97, 0.99, 1.0}, 0.97), "met"},
		// Nine rounds: one wild round on each side does not make the
		// figure unresolved (the interval is the 2nd to the 8th value).
		{"nine rounds, an outlier each side", SpreadAtLeast(Spread{0.5, 0.98, 0.99, 1, 1, 1, 1.01, 1.02, 1.5}, 0.97), "met"},
		{"one value", SpreadAtMost(Spread{1.51}, 1.5), "missed by 1%"},
		{"within, all rounds inside", SpreadWithin(Spread{0.995, 1.0, 1.008}, 1, 0.01), "met"},
		{"within, all rounds under", SpreadWithin(Spread{0.95, 0.96, 0.97}, 1, 0.01), "missed by 3.0%"},
		{"within, all rounds over", SpreadWithin(Spread{1.03, 1.05, 1.02}, 1, 0.01), "missed by 2.0%"},
		{"within, rounds inside and under", SpreadWithin(Spread{0.97, 0.995, 1.0}, 1, 0.01),
			"unresolved: 0.97-1 holds the goal (median: met)"},
		{"within, rounds under and over", SpreadWithin(Spread{0.97, 0.98, 1.03}, 1, 0.01),
			"unresolved: 0.97-1.03 holds the goal (median: missed by 1.0%)"},
		{"within, rounds on the band's edges", SpreadWithin(Spread{0.99, 1.0, 1.01}, 1, 0.01), "met"},
		{"within, a round on the band's lower edge", SpreadWithin(Spread{0.99, 1.0, 1.005}, 1, 0.01), "met"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestWorstNamesThePartsNotMet(t *testing.T) {
	for _, c := range []struct {
		parts []Part
		want  string
	}{
		{[]Part{{"IOPS", "met"}, {"p99", "met"}}, "met"},
		{[]Part{{"IOPS", "met"}, {"p99", "unresolved: 1.1-2 holds the goal (median: missed by 3%)"}},
			"unresolved (p99 unresolved: 1.1-2 holds the goal (median: missed by 3%))"},
		{[]Part{{"IOPS", "missed by 14%"}, {"p99", "unresolved: 1.1-2 holds the goal (median: met)"}},
			"missed (IOPS missed by 14%; p99 unresolved: 1.1-2 holds the goal (median: met))"},
		{nil, "met"},
	} {
		if got := Worst(c.parts...); got != c.want {
			t.Errorf("Worst(%v) = %q, want %q", c.parts, got, c.want)
		}
	}
	if got := EachAtMost([]string{"10 groups", "10,000 groups"}, []Spread{{1.1, 1.2, 1.3}, {1.6, 1.7, 1.8}}, 1.5); got != "missed (10,000 groups missed by 13%)" {
		t.Errorf("EachAtMost: %q", got)
	}
}
