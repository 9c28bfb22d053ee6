package burst

import (
	"context"
	"errors"
	"time"

	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// sync samples one group at now: charge its buckets with what it used
// since the last sample, decide burst or baseline per bucket, and hand the
// boost and the buckets to the table (which writes the kernel only when the
// boost changed).
func (c *Controller) sync(ctx context.Context, e entry, now time.Time) {
	logger := klog.FromContext(ctx).WithValues("group", e.key)
	st, ok := c.groups.Get(e.key)
	if !ok {
		// The driver tracks a group once it is placed and forgets it when
		// it removes it; a group gone without that (a failed publish's
		// rollback raced a tick) is dropped here.
		if e.g.primed {
			c.drop(e.key, e.g)
		}
		return
	}
	raw, inc, err := c.groups.ReadCounters(e.key)
	if err != nil {
		logger.V(4).Info("Burst controller could not read counters; next tick retries", "err", err)
		return
	}
	g := e.g
	dt, charge := 0.0, false
	var before throttle.Counters
	switch {
	case g.resume != nil:
		// First reading after a restart: charge what the group did while
		// nobody watched (the kernel counted it), from the persisted state.
		before, dt, charge = g.resume.Counters, now.Sub(g.resume.SavedAt).Seconds(), true
	case g.primed && g.inc == inc:
		before, dt, charge = g.last, now.Sub(g.lastAt).Seconds(), true
	}
	tick := c.interval.Seconds()
	var boost throttle.Limits
	state := &throttle.BurstState{Seconds: e.cfg.Seconds}
	for i := range g.buckets {
		rate, base := knobOf(e.cfg.Rates, i), knobOf(st.Spec.Limits, i)
		if rate == 0 || base == 0 || rate <= base {
			// No burst, an unlimited baseline (nothing to raise) or a
			// baseline grown past the burst rate: no bucket.
			g.buckets[i] = nil
			continue
		}
		b := g.buckets[i]
		if b == nil {
			nb := newBucket(float64(base), float64(rate), float64(e.cfg.Seconds))
			if g.resume != nil {
				if s, ok := g.resume.Buckets[knobNames[i]]; ok {
					nb.balance, nb.bursting = min(max(s.Balance, 0), nb.capacity), s.Bursting
				}
			}
			b = &nb
			g.buckets[i] = b
		}
		b.reshape(float64(base), float64(rate), float64(e.cfg.Seconds))
		if charge && dt > 0 {
			b.charge(usedSince(raw, before, i), dt)
		}
		if b.decide(tick) {
			if b.bursting {
				logger.V(2).Info("Burst credit back; burst rate in force", "limit", knobNames[i], "rate", rate, "balance", b.balance)
			} else {
				logger.V(2).Info("Burst credit spent; baseline in force", "limit", knobNames[i], "baseline", base)
			}
		}
		if b.bursting {
			*knob(&boost, i) = rate
		}
		state.Buckets = append(state.Buckets, throttle.Bucket{
			Knob: knobNames[i], Baseline: base, Rate: rate, Capacity: b.capacity, Balance: b.balance,
			Bursting: b.bursting, Empty: !b.bursting, Full: b.full(),
		})
	}
	g.resume = nil
	g.last, g.lastAt, g.inc, g.primed = raw, now, inc, true
	if len(state.Buckets) == 0 {
		state = nil
	}
	err = c.groups.SetBoost(e.key, inc, boost, state)
	switch {
	case errors.Is(err, throttle.ErrGroupNotFound):
		logger.V(4).Info("Group removed while the burst controller sampled it", "err", err)
	case err != nil:
		logger.Error(err, "Burst controller could not set the kernel's limits; next tick retries", "boost", boost)
	}
}
