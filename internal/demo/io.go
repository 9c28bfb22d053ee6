package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// StartIO starts an IO process for j in container c; close stops it if it
// still runs.
func (s *Session) StartIO(c *Container, j iobench.Job) (*iobench.Proc, error) {
	j.Cgroup = c.Cgroup
	p, err := iobench.Start(s.deps.IOCommand(j.Args()), j)
	if err != nil {
		return nil, err
	}
	s.onClose("stop the IO process on "+j.File, func(context.Context) error { return p.Stop(2 * time.Second) })
	return p, nil
}

// track follows one IO process and its publication's throttle group while
// the IO runs.
type track struct {
	name  string
	pub   *Publication
	proc  *iobench.Proc
	limit float64 // in the job's unit; 0 = unlimited
	// samples are the distinct stats snapshots the worker installed.
	samples []throttle.Stats
}

func (t *track) observe(st throttle.GroupStatus) {
	s := st.Stats
	if s.Pending || len(t.samples) > 0 && !s.SampledAt.After(t.samples[len(t.samples)-1].SampledAt) {
		return
	}
	t.samples = append(t.samples, s)
}

// end is when the IO ended, on this process's clock.
func (t *track) end() time.Time { return t.proc.StartedAt().Add(t.proc.Last().Elapsed) }

// workerRate is the rate of the worker's last sample that covers a whole
// interval of IO: taken at least an interval after the IO started (the
// worker samples at least once an interval, so the one before it was taken
// after the start) and no later than its end.
func (t *track) workerRate(interval time.Duration) (float64, bool) {
	j := t.proc.Job()
	for i := len(t.samples) - 1; i >= 0; i-- {
		at := t.samples[i].SampledAt
		if !at.After(t.end()) && !at.Before(t.proc.StartedAt().Add(interval)) {
			return statsRate(t.samples[i], j.Unit, j.Mode), true
		}
	}
	return 0, false
}

// watchIO shows the live view until every IO process ended, and records
// the worker's samples of each group meanwhile. scale is the limit the
// bars are drawn against.
func (s *Session) watchIO(ctx context.Context, tracks []*track, scale float64) error {
	procs := make([]*iobench.Proc, len(tracks))
	for i, t := range tracks {
		procs[i] = t.proc
	}
	if err := iobench.StartTogether(ctx, procs); err != nil {
		return err
	}
	view := &liveView{w: s.deps.Out, tty: s.deps.Terminal}
	tick := time.NewTicker(view.interval())
	defer tick.Stop()
	for {
		running := 0
		var gs []gauge
		for _, t := range tracks {
			j := t.proc.Job()
			reports := t.proc.History()
			gs = append(gs, gauge{Name: t.name, Unit: j.Unit, Limit: t.limit, Scale: scale,
				Rate: windowRate(reports, j.Unit, time.Second), Elapsed: t.proc.Last().Elapsed, Duration: j.Duration})
			if st, ok := s.group(t.pub.Key); ok {
				t.observe(st)
			}
			select {
			case <-t.proc.Exited():
			default:
				running++
			}
		}
		view.update(gs)
		if running == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return iobench.WaitAll(procs)
}

// afterIO waits until the worker sampled t's group after the IO ended, so
// that its totals hold all of it, and returns that status.
func (s *Session) afterIO(ctx context.Context, t *track) (throttle.GroupStatus, error) {
	deadline := time.Now().Add(3*StatsInterval + time.Second)
	for {
		st, ok := s.group(t.pub.Key)
		if !ok {
			return st, fmt.Errorf("throttle group %s is gone", t.pub.Key)
		}
		if !st.Stats.Pending && st.Stats.SampledAt.After(t.end()) {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("the stats worker did not sample group %s within %s after the IO", t.pub.Key, 3*StatsInterval+time.Second)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
