package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
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
	ctr, err := s.NewContainer(ctx, pod, containerFor(set.Mode))
	if err != nil {
		return err
	}
	if err := s.WaitForLimits(ctx, pubs[0], ctr); err != nil {
		return err
	}

	tracks := make([]*track, len(pubs))
	for i, p := range pubs {
		j := iobench.Job{File: filepath.Join(p.Target, "demo.dat"), Mode: set.Mode, Unit: set.Unit,
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
		last := t.proc.Last()
		rate, _ := t.workerRate(StatsInterval)
		results[i] = result{Name: t.name, Unit: set.Unit, Mode: set.Mode, Limit: t.limit,
			Total: last.Amount(set.Unit), Achieved: last.Amount(set.Unit) / last.Elapsed.Seconds(),
			Elapsed: last.Elapsed, Waited: last.Waited, Group: st, WorkerRate: rate}
	}
	renderTable(s.deps.Out, results)
	s.Printf("\n")
	s.say("semantics", "%s", results[0].Group.Semantics)
	return verdict(s, results[0], results[1], diskAllowed(tracks[1].proc.History(), set.Unit, set.limit))
}

// diskAllowed is the share of the limit that the unlimited volume reached,
// report interval by report interval, each capped at the limit. It runs
// the same IO beside the limited one on the same disk: in an interval in
// which it stayed below the limit, the disk (or the CPU) would not have
// carried the limited volume to its limit either. 1 on a disk that kept up.
func diskAllowed(unlimited []iobench.Report, u Unit, limit float64) float64 {
	var allowed, prev float64
	var prevAt time.Duration
	for _, r := range unlimited {
		if dt := (r.Elapsed - prevAt).Seconds(); dt > 0 {
			allowed += min(r.Amount(u)-prev, limit*dt)
		}
		prev, prevAt = r.Amount(u), r.Elapsed
	}
	if prevAt <= 0 || limit <= 0 {
		return 1
	}
	return allowed / (limit * prevAt.Seconds())
}

// verdict passes when the limited volume ran within its band of its
// limit. Above MaxRatio the limit did not hold, however busy the machine.
// The floor is MinRatio on a quiet machine. The IO process keeps one IO in
// flight, so the time it waited for a CPU instead of submitting the next IO
// is budget the kernel could not hand it: the floor drops by that share of
// the run (iobench.Floor). And it drops to the share of the limit the disk
// allowed (diskAllowed, from the unlimited volume beside it). A demo run on
// a busy machine then shows the limit holding instead of failing on the
// machine's load; a limit set too low still fails unless the machine was
// busy for most of the run, and the verdict says how busy it was.
func verdict(s *Session, limited, unlimited result, disk float64) error {
	q, _ := limited.ratio()
	floor := iobench.Floor(MinRatio, limited.Elapsed, limited.Waited) * disk
	band := fmt.Sprintf("%.2g-%.2g", MinRatio, MaxRatio)
	if floor < MinRatio-0.005 {
		var why []string
		if share := float64(limited.Waited) / float64(max(limited.Elapsed, 1)); share >= 0.005 {
			why = append(why, fmt.Sprintf("its IO process waited %.0f%% of the run for a CPU", 100*share))
		}
		if disk < 0.995 {
			why = append(why, fmt.Sprintf("the unlimited volume beside it reached only %.0f%% of the limit", 100*disk))
		}
		band = fmt.Sprintf("%.2f-%.2g: %.2g of what the busy machine allowed, %s", floor, MaxRatio, MinRatio, strings.Join(why, " and "))
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
