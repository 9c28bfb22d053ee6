//go:build bench

package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// section is one part of the report, written by one test.
type section struct {
	Order   int
	Title   string
	Body    string // markdown
	Targets []target
}

// target is one goal of the benchmarks (docs/benchmarks.md, Targets) and how
// far the run is from it.
type target struct {
	What     string // "publish path vs bare losetup+mkfs+mount"
	Goal     string // "<= 1.2x"
	Measured string // "1.31x (p50)"
	Verdict  string // "met" or how far off
}

// save writes the section for TestMain's report.
func save(t *testing.T, s section) {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.out, fmt.Sprintf("section-%02d.json", s.Order)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("section %d. %s\n%s", s.Order, s.Title, s.Body)
}

func loadSections() ([]section, error) {
	files, err := filepath.Glob(filepath.Join(cfg.out, "section-*.json"))
	if err != nil {
		return nil, err
	}
	var out []section
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var s section
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b section) int { return a.Order - b.Order })
	return out, nil
}

// writeReport assembles the saved sections under a header that says how,
// when and where the figures were taken.
func writeReport(path string, h host, took time.Duration) error {
	secs, err := loadSections()
	if err != nil {
		return err
	}
	api, err := apiserverSection()
	if err != nil {
		return err
	}
	secs = append(secs, api)
	slices.SortFunc(secs, func(a, b section) int { return a.Order - b.Order })
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `hack/bench` (`test/bench`); do not edit by hand, re-run it. Every figure stands beside the\n" +
		"baseline it cannot beat — the bare kernel, a bare direct-IO loop device, the host filesystem — measured in the\n" +
		"same run and quoted as a ratio, because the machines are shared and noisy. Medians where repeated.\n\n")
	if cfg.smoke {
		b.WriteString("**SMOKE RUN**: tiny durations and sizes to check that the benchmarks work; the figures mean nothing.\n\n")
	}
	b.WriteString(table([]string{"run", ""}, [][]string{
		{"command", "`" + cfg.command + "`"},
		{"date", h.date.UTC().Format("2006-01-02 15:04 UTC")},
		{"kernel", h.kernel},
		{"machine", h.machine},
		{"disk", h.disk},
		{"load average at start / end", h.load + " / " + loadAvg()},
		{"duration", took.Round(time.Second).String()},
	}))
	b.WriteString("\n## Targets\n\n")
	b.WriteString("A figure measured in rounds is judged by the interval of its median, not by the median alone: \"met\" or " +
		"\"missed\" when the interval lies wholly on one side of the goal, \"unresolved\" when it holds the goal, which " +
		"says that the rounds fell on both sides and this run cannot tell which side the figure is on (the verdict gives the " +
		"interval and where the median fell). The interval runs from the k-th smallest round to the k-th largest, with the " +
		"largest k for which it holds the true median with a probability of at least 90% whatever the figures' distribution, " +
		"and k = 1 when none does: the rounds' whole range up to seven rounds (a probability of 75% for three, 94% for five), " +
		"the second smallest to the second largest for eight to ten, the third for eleven. A target made of several figures takes the worst " +
		"verdict among them.\n\n")
	var rows [][]string
	for _, s := range secs {
		for _, tg := range s.Targets {
			rows = append(rows, []string{tg.What, tg.Goal, tg.Measured, tg.Verdict})
		}
	}
	b.WriteString(table([]string{"what", "target", "measured", "verdict"}, rows))
	for _, s := range secs {
		fmt.Fprintf(&b, "\n## %d. %s\n\n%s", s.Order, s.Title, s.Body)
	}
	b.WriteString(keptSections(path))
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// table renders a markdown table.
func table(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// keptMarker starts the part of the report that other tiers measure (the
// e2e stage on a real node, for instance) and hack/bench cannot: a run
// carries it over from the report it replaces.
const keptMarker = "<!-- Measured by other tiers; hack/bench keeps what follows. -->"

func keptSections(path string) string {
	old, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if _, kept, ok := strings.Cut(string(old), keptMarker); ok {
		return "\n" + keptMarker + kept
	}
	return ""
}
