package main

import (
	"strings"
	"testing"
)

func reportOf(date string, rows ...string) string {
	md := "# Benchmarks\n\n| run |  |\n|---|---|\n| date | " + date + " |\n\n## Targets\n\nSome prose | with a bar.\n\n" +
		"| what | target | measured | verdict |\n|---|---|---|---|\n"
	for _, r := range rows {
		md += r + "\n"
	}
	return md + "\n## 1. Accuracy\n\n| what | a | b | c |\n|---|---|---|---|\n| not a target | x | y | missed |\n"
}

func TestCompare(t *testing.T) {
	base, err := parseReport(reportOf("2026-12-01 10:00 UTC",
		"| a | <= 1 | 0.9 | met |",
		"| b | <= 1 | 1.2 (1.1-1.3) | missed by 20% |",
		"| c | <= 1 | 1.0 (0.9-1.1) | unresolved: 0.9-1.1 holds the goal (median: met) |",
		"| d | a figure | 5 | measured |",
		"| gone | <= 1 | 0.5 | met |",
	))
	if err != nil {
		t.Fatal(err)
	}
	next, err := parseReport(reportOf("2026-12-02 10:00 UTC",
		"| a | <= 1 | 1.1 | missed (x missed by 10%) |",
		"| b | <= 1 | 1.3 | missed by 30% |",
		"| c | <= 1 | 0.9 | met |",
		"| d | a figure | 6 | measured |",
		"| new | <= 1 | 0.5 | met |",
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(base.targets) != 5 || base.date != "2026-12-01 10:00 UTC" {
		t.Fatalf("parsed %d targets dated %q; want 5, the run's date (the section tables are not targets)", len(base.targets), base.date)
	}
	got := compare(base, next)
	for _, want := range []string{
		"verdicts against the report of 2026-12-01 10:00 UTC: 2 of 4 shared rows the same, 1 met in one run and missed in the other\n",
		"CONTRADICTS: a\n    before: met, 0.9\n    now:    missed, 1.1\n",
		"differs: c\n    before: unresolved, 1.0 (0.9-1.1)\n    now:    met, 0.9\n",
		"only before: gone\n",
		"only now: new\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("compare output lacks %q; it is:\n%s", want, got)
		}
	}
	if strings.Contains(got, ": b\n") || strings.Contains(got, ": d\n") {
		t.Errorf("rows whose verdicts agree are listed:\n%s", got)
	}
}

func TestParseReportWithoutTargets(t *testing.T) {
	if _, err := parseReport("# Benchmarks\n\n## 1. Accuracy\n\n| a | b | c | d |\n"); err == nil {
		t.Fatal("a report without a Targets section parsed")
	}
}
