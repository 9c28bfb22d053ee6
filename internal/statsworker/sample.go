package statsworker

import (
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
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
	// The rates are measured from rateAt, when the totals were rateFrom,
	// and kept in rates until a window of at least the minimum has passed.
	rateAt   time.Time
	rateFrom throttle.Counters
	rates    throttle.Stats
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
//
// Rates are the total's growth over a window of at least minWindow, on the
// caller's monotonic clock. Syncs come at the resync interval but also on
// events (a new or removed container, a limit change); a rate over the few
// milliseconds since the previous sync would mostly measure how the kernel
// batches IO (one 1 MiB request more or less is +-100 MiB/s over 10 ms), and
// would make saturation flap. So a reading inside the window updates the
// totals and keeps the rates of the last full window.
func advance(prev *sample, inc uint64, raw throttle.Counters, now time.Time, minWindow time.Duration) (throttle.Stats, sample) {
	if prev == nil || prev.inc != inc {
		next := sample{inc: inc, at: now, raw: raw, rateAt: now, rateFrom: raw}
		return statsOf(next.totals(), throttle.Stats{}, now), next
	}
	next := *prev
	next.at, next.raw = now, raw
	carry := func(base *uint64, was, is uint64) {
		if is < was {
			*base += was - is
		}
	}
	carry(&next.base.ReadBytes, prev.raw.ReadBytes, raw.ReadBytes)
	carry(&next.base.WriteBytes, prev.raw.WriteBytes, raw.WriteBytes)
	carry(&next.base.ReadIOs, prev.raw.ReadIOs, raw.ReadIOs)
	carry(&next.base.WriteIOs, prev.raw.WriteIOs, raw.WriteIOs)
	total := next.totals()
	if dt := now.Sub(prev.rateAt); dt > 0 && dt >= minWindow {
		next.rates = ratesOf(total, prev.rateFrom, dt)
		next.rateAt, next.rateFrom = now, total
	}
	return statsOf(total, next.rates, now), next
}

// statsOf builds the stats for totals with the given rates.
func statsOf(total throttle.Counters, rates throttle.Stats, now time.Time) throttle.Stats {
	s := rates
	s.Pending = false
	s.SampledAt = now
	s.ReadBytes, s.WriteBytes = total.ReadBytes, total.WriteBytes
	s.ReadIOs, s.WriteIOs = total.ReadIOs, total.WriteIOs
	return s
}

// ratesOf holds the rates of the totals' growth from before over dt (> 0).
func ratesOf(total, before throttle.Counters, dt time.Duration) throttle.Stats {
	sec := dt.Seconds()
	rate := func(is, was uint64) float64 { return float64(is-was) / sec }
	return throttle.Stats{
		ReadBytesPerSecond:  rate(total.ReadBytes, before.ReadBytes),
		WriteBytesPerSecond: rate(total.WriteBytes, before.WriteBytes),
		ReadIOPS:            rate(total.ReadIOs, before.ReadIOs),
		WriteIOPS:           rate(total.WriteIOs, before.WriteIOs),
	}
}

func add(a, b throttle.Counters) throttle.Counters {
	return throttle.Counters{
		ReadBytes:  a.ReadBytes + b.ReadBytes,
		WriteBytes: a.WriteBytes + b.WriteBytes,
		ReadIOs:    a.ReadIOs + b.ReadIOs,
		WriteIOs:   a.WriteIOs + b.WriteIOs,
	}
}
