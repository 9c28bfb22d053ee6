package demo

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// The protection bar for a victim (the noisy-neighbour target of
// docs/benchmarks.md): with the aggressor throttled it
// keeps this share of its IOPS alone, and its p99 within this factor.
const (
	victimMinIOPS = 0.9
	victimMaxP99  = 1.5
)

// renderNeighbourTable writes the phases side by side, the victim's
// figures also as ratios to the victim alone.
func renderNeighbourTable(w io.Writer, phases []*neighbourPhase) {
	alone := phases[0]
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  phase\taggressor on\tvictim IOPS\tp50\tp99\tp99.9\tIOPS vs alone\tp99 vs alone\taggressor wrote")
	for _, p := range phases {
		on, wrote := "-", "-"
		if p.agg != nil {
			on, wrote = p.agg.Volume.Name+" (no limits)", formatRate(UnitBytes, p.aggressor)
			if p.limit > 0 {
				on = fmt.Sprintf("%s (%s)", p.agg.Volume.Name, formatRate(UnitBytes, p.limit))
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%.0f\t%s\t%s\t%s\t%.2f\t%.2fx\t%s\n", p.name, on, p.iops,
			formatLatency(p.victim.P50), formatLatency(p.victim.P99), formatLatency(p.victim.P999),
			p.iops/alone.iops, float64(p.victim.P99)/float64(alone.victim.P99), wrote)
	}
	tw.Flush()
}

// neighbourVerdict passes when the kernel held the throttled aggressor
// within MinRatio..MaxRatio of its limit, and says what that did for the
// victim against the protection bar. The victim's figures do not decide it: a
// victim can also suffer from CPUs or a disk busy with work outside the
// demo, which no IO limit on the aggressor removes.
func neighbourVerdict(s *Session, phases []*neighbourPhase) error {
	alone, free, thr := phases[0], phases[1], phases[2]
	p99 := func(p *neighbourPhase) float64 { return float64(p.victim.P99) / float64(alone.victim.P99) }
	kept, lost := thr.iops/alone.iops, free.iops/alone.iops
	bar := "met"
	if kept < victimMinIOPS || p99(thr) > victimMaxP99 {
		bar = "NOT met on this run (a busy machine? the limit holds only the aggressor's IO)"
	}
	s.say("victim", "next to the unthrottled aggressor it kept %.2f of its IOPS alone, p99 %.2fx; next to the throttled one %.2f, p99 %.2fx (the protection bar: >= %.1f and <= %.1fx: %s)",
		lost, p99(free), kept, p99(thr), victimMinIOPS, victimMaxP99, bar)
	q := thr.aggressor / thr.limit
	if q < MinRatio || q > MaxRatio {
		hint := "the limit did not hold"
		if q < MinRatio && free.aggressor < thr.limit {
			hint = fmt.Sprintf("the disk itself is slower than the limit right now (the unthrottled aggressor wrote only %s; a busy machine?): try a lower --limit",
				formatRate(UnitBytes, free.aggressor))
		} else if q < MinRatio {
			hint = fmt.Sprintf("the aggressor did not reach its limit, although it wrote %s unthrottled: the disk or the CPUs were busy with other work meanwhile? run again, or try a lower --limit",
				formatRate(UnitBytes, free.aggressor))
		}
		return fmt.Errorf("the throttled aggressor wrote at %.3fx its %s limit, outside %.1f-%.1f: %s",
			q, formatRate(UnitBytes, thr.limit), MinRatio, MaxRatio, hint)
	}
	s.say("verdict", "PASS: the throttled aggressor wrote at %.3fx its %s limit (pass band %.1f-%.1f); unthrottled it wrote %s",
		q, formatRate(UnitBytes, thr.limit), MinRatio, MaxRatio, formatRate(UnitBytes, free.aggressor))
	return nil
}
