package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

// runThrottle is the default story: a pod with two volumes, one limited and
// one not, IO to both from one container for the configured duration, and
// the limited one's achieved rate against its limit.
func runThrottle(ctx context.Context, s *Session) error {
	set := s.set
	pod, err := s.NewPod(ctx, "csi-blkio-demo")
	if err != nil {
		return err
	}
	limited, err := s.NewVolume(ctx, "limited", set.params)
	if err != nil {
		return err
	}
	unlimited, err := s.NewVolume(ctx, "unlimited", nil)
	if err != nil {
		return err
	}
	var pubs []*Publication
	for _, v := range []*Volume{limited, unlimited} {
		p, err := s.Publish(ctx, v, pod)
		if err != nil {
			return err
		}
		pubs = append(pubs, p)
	}
	// As runc does: the container's cgroup appears after the publish.
	ctr, err := s.NewContainer(ctx, pod, set.Mode.container())
	if err != nil {
		return err
	}
	if err := s.WaitForLimits(ctx, pubs[0], ctr); err != nil {
		return err
	}

	tracks := make([]*track, len(pubs))
	for i, p := range pubs {
		j := IOJob{File: filepath.Join(p.Target, "demo.dat"), Mode: set.Mode, Unit: set.Unit,
			Block: set.block, FileSize: set.fileSize, Duration: set.Duration, Report: 100 * time.Millisecond}
		proc, err := s.StartIO(ctr, j)
		if err != nil {
			return err
		}
		tracks[i] = &track{name: p.Volume.Name, pub: p, proc: proc}
	}
	tracks[0].limit = set.limit
	pattern := "sequential"
	if set.Unit == UnitIOPS {
		pattern = "random"
	}
	s.say("io", "%s %s %s blocks with O_DIRECT for %s to each volume, one process per volume in %s",
		set.Mode, pattern, formatBytes(float64(set.block)), set.Duration, ctr.Cgroup)
	s.Printf("\n")
	if err := s.watchIO(ctx, tracks, set.limit); err != nil {
		return err
	}
	s.Printf("\n")

	results := make([]result, len(tracks))
	for i, t := range tracks {
		st, err := s.afterIO(ctx, t)
		if err != nil {
			return err
		}
		last := t.proc.last()
		rate, _ := t.workerRate(StatsInterval)
		results[i] = result{Name: t.name, Unit: set.Unit, Mode: set.Mode, Limit: t.limit,
			Total: last.Amount(set.Unit), Achieved: last.Amount(set.Unit) / last.Elapsed.Seconds(),
			Elapsed: last.Elapsed, Waited: last.Waited, Group: st, WorkerRate: rate}
	}
	renderTable(s.deps.Out, results)
	s.Printf("\n")
	s.say("semantics", "%s", results[0].Group.Semantics)
	return verdict(s, results[0], results[1])
}

// verdict passes when the limited volume ran within its band of its
// limit. Above MaxRatio the limit did not hold, however busy the machine.
// The floor is MinRatio for a writer that was on a CPU whenever its IO
// completed; the IO process keeps one IO in flight, so the time it waited
// for a CPU instead is budget the kernel could not hand it, and the floor
// drops by that share of the run (iobench.Floor). A demo run on a busy
// machine then shows the limit holding instead of failing on the machine's
// load; a limit that was set too low still fails unless the writer waited
// for most of the run, and the verdict says how much it waited.
func verdict(s *Session, limited, unlimited result) error {
	q, _ := limited.ratio()
	floor := iobench.Floor(MinRatio, limited.Elapsed, limited.Waited)
	band := fmt.Sprintf("%.2g-%.2g", MinRatio, MaxRatio)
	if share := float64(limited.Waited) / float64(max(limited.Elapsed, 1)); floor < MinRatio-0.005 {
		band = fmt.Sprintf("%.2f-%.2g: %.2g less the %.0f%% of the run its IO process waited for a CPU", floor, MaxRatio, MinRatio, 100*share)
	}
	if q < floor || q > MaxRatio {
		hint := "the limit did not hold"
		switch {
		case q < floor && unlimited.Achieved < limited.Limit:
			hint = fmt.Sprintf("the disk itself is slower than the limit right now (the unlimited volume reached only %s; a busy machine?): try a lower --limit or run again later",
				formatRate(unlimited.Unit, unlimited.Achieved))
		case q < floor:
			hint = "the IO did not reach the limit although the disk is faster (the unlimited volume reached " +
				formatRate(unlimited.Unit, unlimited.Achieved) + "): a busy machine? run again, or try a longer --duration"
		}
		return fmt.Errorf("the limited volume ran at %.3fx its %s limit, outside %s: %s",
			q, formatRate(limited.Unit, limited.Limit), band, hint)
	}
	s.say("verdict", "PASS: the limited volume ran at %.3fx its %s limit (pass band %s); the unlimited one at %s",
		q, formatRate(limited.Unit, limited.Limit), band, formatRate(unlimited.Unit, unlimited.Achieved))
	return nil
}
