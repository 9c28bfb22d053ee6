package elastic

import (
	"fmt"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// domain is the state of one disk: whether its elastic groups are held.
//
// Why the controller does not lift while a protected group stays active:
// once the elastic groups are held, the disk meets the target because they
// are held, so "target met" says nothing about whether lifting is safe.
// Lifting on it would swing the limits on and off every period and the
// protected group would see every second period's latency. The controller
// therefore lifts when the protected groups go quiet, and otherwise only
// probes: after ProbeAfter held without a miss it lifts; a miss holds again
// within one period and doubles the time to the next probe.
type domain struct {
	disk     throttle.Device
	prev     DiskStat
	havePrev bool

	held       bool
	since      time.Time
	reason     string
	lastActive time.Time
	lastMiss   time.Time
	probeAfter time.Duration
	probing    bool

	latency      time.Duration
	lastReaction time.Duration
	lastStepAt   time.Time

	// Filled in by every step before decide.
	protected, elastic int
	activeNow          bool
	missed             bool // an active protected group missed its target
	missBy             time.Duration
	missLat            time.Duration
	missTarget         time.Duration
	justHeld           bool
	periodStart        time.Time
}

// newDomain starts held: a volume is published with its limits, and the
// controller lifts them once it has seen that nothing needs them.
func newDomain(disk throttle.Device, now time.Time) *domain {
	return &domain{disk: disk, held: true, since: now, lastActive: now,
		reason: "starting: limits held until the disk's protected groups are seen quiet"}
}

func (d *domain) resetStep() {
	d.protected, d.elastic = 0, 0
	d.activeNow, d.missed, d.missBy, d.justHeld = false, false, 0, false
}

// decide reports whether held changed at now. Called once per step, after
// the protected groups were sampled; st, the disk's counters, only feed
// the reported disk latency.
func (d *domain) decide(st DiskStat, now time.Time, o Options) bool {
	d.periodStart, d.lastStepAt = d.lastStepAt, now
	if d.probeAfter == 0 {
		d.probeAfter = o.ProbeAfter
	}
	lat, _ := st.Latency(d.prev)
	valid := d.havePrev
	d.prev, d.havePrev = st, true
	if valid {
		d.latency = lat
	}
	if d.activeNow {
		d.lastActive = now
	}
	missed := d.missed
	switch {
	case d.protected == 0:
		d.probing, d.probeAfter = false, o.ProbeAfter
		return d.set(false, now, "no protected group on this disk")
	case missed:
		d.lastMiss = now
		if d.held {
			return false
		}
		if d.probing {
			d.probeAfter = min(2*d.probeAfter, MaxProbeAfter)
		}
		d.probing = false
		d.justHeld = true
		return d.set(true, now, fmt.Sprintf("a protected group's mean IO time %v is above its target %v", d.missLat, d.missTarget))
	case !d.held:
		return false
	case now.Sub(d.lastActive) >= o.QuietAfter:
		d.probing, d.probeAfter = false, o.ProbeAfter
		return d.set(false, now, fmt.Sprintf("no protected group did IO for %v", o.QuietAfter))
	case d.activeNow && now.Sub(d.since) >= d.probeAfter && now.Sub(d.lastMiss) >= d.probeAfter:
		d.probing = true
		return d.set(false, now, fmt.Sprintf("probing: held for %v while the protected groups met their target", d.probeAfter))
	}
	return false
}

func (d *domain) set(held bool, now time.Time, reason string) bool {
	if d.held == held {
		return false
	}
	d.held, d.since, d.reason = held, now, reason
	return true
}
