package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

// The neighbour story: a latency-sensitive victim pod reads
// 4 KiB random blocks one at a time from its volume, while an aggressor
// pod writes 64 KiB random blocks from several processes to a volume on
// the same disk: first on a volume without limits, then on one with the
// configured write limit. The victim's IOPS and latency in each phase show
// what the limit buys the neighbours.
const (
	victimBlock    = 4 << 10
	aggressorBlock = 64 << 10
	// aggressorWriters: the demo's IO processes do one IO at a time, so
	// the aggressor runs 32 to keep as many writes in flight as the
	// benchmark's queue-depth-32 writer (docs/benchmarks.md, section 6). Fewer fail to reach a low limit on a busy
	// machine: each then waits long for the CPU after every write (measured
	// with 8 writers at load 14 on 2 CPUs: 0.89 of a 20 MiB/s limit).
	aggressorWriters = 32
)

// neighbourPhase is one third of the story and, once run, its figures.
type neighbourPhase struct {
	name string
	// agg is the aggressor's publication, nil when the victim runs alone.
	agg   *Publication
	limit float64 // the aggressor volume's write limit, bytes/s; 0 = none

	victim    iobench.Report // the victim's last report: whole-run percentiles
	iops      float64        // the victim's
	aggressor float64        // bytes/s the aggressor wrote
}

func (p *neighbourPhase) describe() string {
	switch {
	case p.agg == nil:
		return "the victim alone"
	case p.limit == 0:
		return fmt.Sprintf("the aggressor writes to %q, a volume without limits", p.agg.Volume.Name)
	}
	return fmt.Sprintf("the aggressor writes to %q, limited to %s", p.agg.Volume.Name, formatRate(UnitBytes, p.limit))
}

func runNeighbour(ctx context.Context, s *Session) error {
	set := s.set
	victimPod, err := s.NewPod(ctx, "victim")
	if err != nil {
		return err
	}
	aggPod, err := s.NewPod(ctx, "aggressor")
	if err != nil {
		return err
	}
	vols := map[string]map[string]string{"victim": victimParams(), "noisy": nil, "throttled": set.params, "elastic": elasticParams(set.params)}
	pubs := map[string]*Publication{}
	for _, name := range []string{"victim", "noisy", "throttled", "elastic"} {
		v, err := s.NewVolume(ctx, name, vols[name])
		if err != nil {
			return err
		}
		pod := aggPod
		if name == "victim" {
			pod = victimPod
		}
		if pubs[name], err = s.Publish(ctx, v, pod); err != nil {
			return err
		}
	}
	reader, err := s.NewContainer(ctx, victimPod, "reader")
	if err != nil {
		return err
	}
	writer, err := s.NewContainer(ctx, aggPod, "writer")
	if err != nil {
		return err
	}
	if err := s.WaitForLimits(ctx, pubs["throttled"], writer); err != nil {
		return err
	}
	s.say("io", "victim: %s random reads with O_DIRECT, one at a time, in %s; aggressor: %d processes writing %s random blocks with O_DIRECT, in %s; %s per phase",
		formatBytes(victimBlock), reader.Cgroup, aggressorWriters, formatBytes(aggressorBlock), writer.Cgroup, set.Duration)

	phases := []*neighbourPhase{
		{name: "alone"},
		{name: "unthrottled", agg: pubs["noisy"]},
		{name: "throttled", agg: pubs["throttled"], limit: set.limit},
	}
	for i, ph := range phases {
		s.Printf("\n  phase %d/%d: %s\n", i+1, len(phases)+2, ph.describe())
		if err := s.runNeighbourPhase(ctx, ph, pubs["victim"], reader, writer); err != nil {
			return err
		}
	}
	s.Printf("\n  phase %d/%d: the victim goes quiet; the aggressor writes to %q, whose limit is elastic\n", len(phases)+1, len(phases)+2, pubs["elastic"].Volume.Name)
	quiet, err := s.runElasticQuiet(ctx, pubs["elastic"], writer)
	if err != nil {
		return err
	}
	back := &neighbourPhase{name: "elastic", agg: pubs["elastic"], limit: set.limit}
	s.Printf("\n  phase %d/%d: the victim (latencyTarget %s) comes back beside the elastic aggressor\n", len(phases)+2, len(phases)+2, elasticLatencyTarget)
	if err := s.runNeighbourPhase(ctx, back, pubs["victim"], reader, writer); err != nil {
		return err
	}
	s.Printf("\n")
	renderNeighbourTable(s.deps.Out, append(phases, back))
	s.Printf("\n")
	elasticSummary(s, append(phases, back), quiet)
	return neighbourVerdict(s, phases)
}

// runNeighbourPhase runs the victim (and the aggressor, if the phase has
// one) for the configured duration, printing a line per second of the
// victim's IO, and records the phase's figures.
func (s *Session) runNeighbourPhase(ctx context.Context, ph *neighbourPhase, victim *Publication, reader, writer *Container) error {
	set := s.set
	v, err := s.StartIO(reader, iobench.Job{
		File: filepath.Join(victim.Target, "victim.dat"), Mode: ModeRead, Unit: UnitIOPS, Block: victimBlock,
		FileSize: set.fileSize / victimBlock * victimBlock, Duration: set.Duration, Report: time.Second, Latency: true,
	})
	if err != nil {
		return err
	}
	var writers []*iobench.Proc
	if ph.agg != nil {
		// Each writer has a file of its own: all of them together as large
		// as the victim's.
		size := set.fileSize / aggressorWriters / aggressorBlock * aggressorBlock
		for w := range aggressorWriters {
			p, err := s.StartIO(writer, iobench.Job{
				File: filepath.Join(ph.agg.Target, fmt.Sprintf("aggressor-%d.dat", w)), Mode: ModeWrite, Unit: UnitIOPS,
				Block: aggressorBlock, FileSize: size, Duration: set.Duration, Report: 100 * time.Millisecond,
			})
			if err != nil {
				return err
			}
			writers = append(writers, p)
		}
	}
	all := append([]*iobench.Proc{v}, writers...)
	if err := iobench.StartTogether(ctx, all); err != nil {
		return err
	}
	shown := 0
	for {
		// A line per progress report; the last (Done) report holds the
		// whole phase's figures, which the table shows.
		if h := v.History(); len(h) > shown && !h[len(h)-1].Done {
			shown = len(h)
			s.Printf("%s\n", neighbourLine(h, writers, ph.limit))
		}
		select {
		case <-v.Exited():
			if err := iobench.WaitAll(all); err != nil {
				return err
			}
			ph.victim = v.Last()
			ph.iops = float64(ph.victim.Ops) / ph.victim.Elapsed.Seconds()
			ph.aggressor = aggressorRate(writers)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// neighbourLine is the live line of the victim's latest progress report
// (a second of IO) beside what the aggressor wrote in the last second.
func neighbourLine(victim []iobench.Report, writers []*iobench.Proc, limit float64) string {
	r := victim[len(victim)-1]
	prev := iobench.Report{}
	if len(victim) > 1 {
		prev = victim[len(victim)-2]
	}
	iops := 0.0
	if dt := (r.Elapsed - prev.Elapsed).Seconds(); dt > 0 {
		iops = float64(r.Ops-prev.Ops) / dt
	}
	line := fmt.Sprintf("  [%4.1fs] victim %7.0f IOPS  p50 %-9s p99 %s", r.Elapsed.Seconds(), iops, formatLatency(r.P50), formatLatency(r.P99))
	if len(writers) == 0 {
		return line
	}
	line += strings.Repeat(" ", max(0, 60-len(line)))
	var rate float64
	for _, w := range writers {
		rate += windowRate(w.History(), UnitBytes, time.Second)
	}
	line += "  aggressor " + formatRate(UnitBytes, rate)
	if limit > 0 {
		line += fmt.Sprintf(" (%.2fx its limit)", rate/limit)
	}
	return line
}

// aggressorRate is what the writers wrote together per second of their IO.
func aggressorRate(writers []*iobench.Proc) float64 {
	var bytes float64
	var elapsed time.Duration
	for _, w := range writers {
		last := w.Last()
		bytes += float64(last.Bytes)
		elapsed = max(elapsed, last.Elapsed)
	}
	if elapsed <= 0 {
		return 0
	}
	return bytes / elapsed.Seconds()
}
