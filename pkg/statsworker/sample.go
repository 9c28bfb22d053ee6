package statsworker

import (
	"time"

	"github.com/csi-blkio/csi-blkio/pkg/throttle"
)

// sample is what the worker remembers of a group's last reading.
type sample struct {
	inc uint64
	at  time.Time
	// raw is the last reading as the kernel gave it; base accumulates what
	// readings lost when a counted cgroup went away (the v1 root's recursive
	// file drops a removed subtree's counts). base+raw is the total.
	raw  throttle.Counters
	base throttle.Counters
}

func (s sample) totals() throttle.Counters { return add(s.base, s.raw) }

// advance folds a new raw reading taken at now into prev (nil, or another
// incarnation's: start afresh) and returns the stats to install and the
// sample to remember.
//
// Totals never decrease: when a counter reads lower than last time, a
// counted cgroup went away, and the drop is carried into base, so the total
// stays where it was and grows with the counters that remain. (IO the gone
// cgroup did since the last reading is lost; nobody can count it any more.)
// Rates are the total's growth over the interval between readings, which
// the caller measures on a monotonic clock.
func advance(prev *sample, inc uint64, raw throttle.Counters, now time.Time) (throttle.Stats, sample) {
	if prev == nil || prev.inc != inc {
		next := sample{inc: inc, at: now, raw: raw}
		return statsOf(next.totals(), throttle.Counters{}, 0, now), next
	}
	next := sample{inc: inc, at: now, raw: raw, base: prev.base}
	carry := func(base *uint64, was, is uint64) {
		if is < was {
			*base += was - is
		}
	}
	carry(&next.base.ReadBytes, prev.raw.ReadBytes, raw.ReadBytes)
	carry(&next.base.WriteBytes, prev.raw.WriteBytes, raw.WriteBytes)
	carry(&next.base.ReadIOs, prev.raw.ReadIOs, raw.ReadIOs)
	carry(&next.base.WriteIOs, prev.raw.WriteIOs, raw.WriteIOs)
	return statsOf(next.totals(), prev.totals(), now.Sub(prev.at), now), next
}

// statsOf builds the stats for totals, with rates against the totals of
// dt ago (no rates for dt <= 0: a first reading or a clock that did not move).
func statsOf(total, before throttle.Counters, dt time.Duration, now time.Time) throttle.Stats {
	s := throttle.Stats{
		SampledAt:  now,
		ReadBytes:  total.ReadBytes,
		WriteBytes: total.WriteBytes,
		ReadIOs:    total.ReadIOs,
		WriteIOs:   total.WriteIOs,
	}
	if dt <= 0 {
		return s
	}
	sec := dt.Seconds()
	rate := func(is, was uint64) float64 { return float64(is-was) / sec }
	s.ReadBytesPerSecond = rate(total.ReadBytes, before.ReadBytes)
	s.WriteBytesPerSecond = rate(total.WriteBytes, before.WriteBytes)
	s.ReadIOPS = rate(total.ReadIOs, before.ReadIOs)
	s.WriteIOPS = rate(total.WriteIOs, before.WriteIOs)
	return s
}

func add(a, b throttle.Counters) throttle.Counters {
	return throttle.Counters{
		ReadBytes:  a.ReadBytes + b.ReadBytes,
		WriteBytes: a.WriteBytes + b.WriteBytes,
		ReadIOs:    a.ReadIOs + b.ReadIOs,
		WriteIOs:   a.WriteIOs + b.WriteIOs,
	}
}
