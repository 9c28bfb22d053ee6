package throttle

import "fmt"

// A group's boost raises its limits above the spec while a burst has
// credit: the burst controller (internal/burst) sets it, and the kernel
// holds Raise(spec.Limits, boost). Keeping it apart from Spec.Limits lets
// the publish path, a live edit and a re-publish keep speaking of the
// baseline, while the controller alone moves the kernel between baseline
// and burst; a re-publish with the same baseline changes nothing.

// Raise returns l with every knob that boost sets raised to boost's value.
// An unlimited knob (zero) stays unlimited: there is nothing to raise.
func Raise(l, boost Limits) Limits {
	up := func(v, b uint64) uint64 {
		if v != 0 && b > v {
			return b
		}
		return v
	}
	return Limits{
		ReadBytesPerSecond:  up(l.ReadBytesPerSecond, boost.ReadBytesPerSecond),
		WriteBytesPerSecond: up(l.WriteBytesPerSecond, boost.WriteBytesPerSecond),
		ReadIOPS:            up(l.ReadIOPS, boost.ReadIOPS),
		WriteIOPS:           up(l.WriteIOPS, boost.WriteIOPS),
	}
}

// BurstState is what the burst controller reports of a group's credit
// buckets, one per limit with a burst. The sinks show it (ThrottleGroup
// status, the balance metric, Events when a bucket empties or fills).
type BurstState struct {
	// Seconds is how long a full bucket sustains the burst rate.
	Seconds uint64
	Buckets []Bucket
}

// Bucket is one limit's credit bucket. Amounts are in the limit's unit:
// bytes for a bytes-per-second limit, IOs for an IOPS limit.
type Bucket struct {
	// Knob is the limit's parameter name (writeBytesPerSecond, ...).
	Knob string
	// Baseline is the limit without credit; Rate the burst rate.
	Baseline, Rate uint64
	// Capacity is (Rate - Baseline) * seconds; Balance is what is left.
	Capacity, Balance float64
	// Bursting: the kernel holds Rate (else Baseline).
	Bursting bool
	// Empty and Full are the bucket's ends as the controller judges them
	// (the sinks tell users when one is reached).
	Empty, Full bool
}

// Ratio is the balance as a fraction of the capacity, 0..1.
func (b Bucket) Ratio() float64 {
	if b.Capacity <= 0 {
		return 0
	}
	return min(max(b.Balance/b.Capacity, 0), 1)
}

// SecondsLeft is how long the balance sustains the burst rate from now.
func (b Bucket) SecondsLeft() float64 {
	if b.Rate <= b.Baseline {
		return 0
	}
	return max(b.Balance, 0) / float64(b.Rate-b.Baseline)
}

// ends are the flags whose change the sinks must hear about at once.
func (s *BurstState) ends() string {
	if s == nil {
		return ""
	}
	out := ""
	for _, b := range s.Buckets {
		out += fmt.Sprintf("%s:%t%t%t;", b.Knob, b.Bursting, b.Empty, b.Full)
	}
	return out
}

// SetBoost makes the kernel hold the group's limits raised by boost and
// records the controller's view of its buckets, if the group still is
// incarnation inc (a boost computed for a removed group is discarded, as
// stats are: invariant 7). It is the burst controller's call, never the
// publish path's. The stats worker is told when the boost or a bucket's
// ends changed, so that status and Events follow within a sync.
func (t *Table) SetBoost(key Key, inc uint64, boost Limits, state *BurstState) error {
	g, err := t.lockPlaced(key)
	if err != nil {
		return err
	}
	defer g.mu.Unlock()
	if g.inc != inc {
		return fmt.Errorf("%w: %s (incarnation %d is gone)", ErrGroupNotFound, key, inc)
	}
	changed := g.boost != boost
	if changed {
		old := g.boost
		g.boost = boost
		// holdAll goes through kernelLimits: an elastic lift in force
		// stays in force.
		if err := t.holdAll(g, g.spec.Limits); err != nil {
			// The boost stays what it was: the next tick retries, and the
			// entries already written are rewritten then.
			g.boost = old
			return fmt.Errorf("boosting limits of %s: %w", key, err)
		}
		g.publish(t.backend.Version())
	}
	old := g.burst.Swap(state)
	if changed || old.ends() != state.ends() {
		t.notify(key)
	}
	return nil
}
