package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
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
			Total: last.Amount(set.Unit), Achieved: last.Amount(set.Unit) / last.Elapsed.Seconds(), Group: st, WorkerRate: rate}
	}
	renderTable(s.deps.Out, results)
	s.Printf("\n")
	s.say("semantics", "%s", results[0].Group.Semantics)
	return verdict(s, results[0], results[1])
}

// verdict passes when the limited volume ran within MinRatio..MaxRatio of
// its limit.
func verdict(s *Session, limited, unlimited result) error {
	q, _ := limited.ratio()
	if q < MinRatio || q > MaxRatio {
		hint := "the limit did not hold"
		switch {
		case q < MinRatio && unlimited.Achieved < limited.Limit:
			hint = fmt.Sprintf("the disk itself is slower than the limit right now (the unlimited volume reached only %s; a busy machine?): try a lower --limit or run again later",
				formatRate(unlimited.Unit, unlimited.Achieved))
		case q < MinRatio:
			hint = "the IO did not reach the limit although the disk is faster (the unlimited volume reached " +
				formatRate(unlimited.Unit, unlimited.Achieved) + "): a busy machine? run again, or try a longer --duration"
		}
		return fmt.Errorf("the limited volume ran at %.3fx its %s limit, outside %.1f-%.1f: %s",
			q, formatRate(limited.Unit, limited.Limit), MinRatio, MaxRatio, hint)
	}
	s.say("verdict", "PASS: the limited volume ran at %.3fx its %s limit (pass band %.1f-%.1f); the unlimited one at %s",
		q, formatRate(limited.Unit, limited.Limit), MinRatio, MaxRatio, formatRate(unlimited.Unit, unlimited.Achieved))
	return nil
}
