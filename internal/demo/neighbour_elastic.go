package demo

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

// The elastic end of the neighbour story (docs/elastic.md): the victim's
// volume is protected (latencyTarget) and the aggressor gets a third volume
// with the same limit made elastic. Two more phases: the victim goes quiet
// and the elastic aggressor alone has its limit lifted; the victim comes
// back and the limit holds again within a control period.

// elasticLatencyTarget is the victim volume's target: between what a
// 4 KiB read takes on an idle disk (tens of µs) and beside an unthrottled
// writer (hundreds of µs, docs/benchmarks.md section 6).
const elasticLatencyTarget = "300us"

// victimParams protect the victim's volume.
func victimParams() map[string]string {
	return map[string]string{"latencyTarget": elasticLatencyTarget}
}

// elasticParams are the limited volume's parameters, made elastic.
func elasticParams(limited map[string]string) map[string]string {
	m := maps.Clone(limited)
	m["elastic"] = "true"
	return m
}

// runElasticQuiet runs the aggressor alone on the elastic volume, printing
// a line per second with its rate and whether its limit is lifted, and
// returns what it wrote per second.
func (s *Session) runElasticQuiet(ctx context.Context, pub *Publication, writer *Container) (float64, error) {
	set := s.set
	size := set.fileSize / aggressorWriters / aggressorBlock * aggressorBlock
	var writers []*iobench.Proc
	for w := range aggressorWriters {
		p, err := s.StartIO(writer, iobench.Job{
			File: filepath.Join(pub.Target, fmt.Sprintf("aggressor-%d.dat", w)), Mode: ModeWrite, Unit: UnitIOPS,
			Block: aggressorBlock, FileSize: size, Duration: set.Duration, Report: 100 * time.Millisecond,
		})
		if err != nil {
			return 0, err
		}
		writers = append(writers, p)
	}
	if err := iobench.StartTogether(ctx, writers); err != nil {
		return 0, err
	}
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-writers[0].Exited():
			if err := iobench.WaitAll(writers); err != nil {
				return 0, err
			}
			return aggressorRate(writers), nil
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
			var rate float64
			for _, w := range writers {
				rate += windowRate(w.History(), UnitBytes, time.Second)
			}
			state := "held to " + formatRate(UnitBytes, set.limit)
			if st, ok := s.group(pub.Key); ok && st.Lifted {
				state = "lifted"
			}
			s.Printf("  [%4.1fs] victim quiet                                  aggressor %s (limit %s)\n",
				time.Since(start).Seconds(), formatRate(UnitBytes, rate), state)
		}
	}
}

// elasticSummary says what the elastic phases showed beside the static
// ones: the aggressor's share of the disk while the victim was quiet, and
// the victim back beside the elastic aggressor against the protection bar.
func elasticSummary(s *Session, phases []*neighbourPhase, quiet float64) {
	alone, free, back := phases[0], phases[1], phases[len(phases)-1]
	share := 0.0
	if free.aggressor > 0 {
		share = quiet / free.aggressor
	}
	s.say("elastic", "victim quiet: the elastic aggressor wrote %s, %.2f of the unthrottled aggressor's %s; victim back: %.2f of its IOPS alone, p99 %.2fx",
		formatRate(UnitBytes, quiet), share, formatRate(UnitBytes, free.aggressor),
		back.iops/alone.iops, float64(back.victim.P99)/float64(alone.victim.P99))
}
