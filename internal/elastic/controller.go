package elastic

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Groups is the part of the throttle table (*throttle.Table) the
// controller uses.
type Groups interface {
	Keys() []throttle.Key
	Get(throttle.Key) (throttle.GroupStatus, bool)
	ReadCounters(throttle.Key) (throttle.Counters, uint64, error)
	SetLift(throttle.Key, *throttle.Limits) error
}

// Defaults of Options.
const (
	// DefaultPeriod: one step costs a few file reads per group (see
	// docs/benchmarks.md), so 100 ms keeps the reaction to a returning
	// protected group well under the 1 s the design asks for at a cost
	// that does not show on a node.
	DefaultPeriod = 100 * time.Millisecond
	// DefaultQuietAfter: a protected group that did no IO for this long
	// is quiet. Shorter would lift between the requests of a service with
	// think time and hold again at its next request.
	DefaultQuietAfter = 500 * time.Millisecond
	// DefaultProbeAfter: how long a hold lasts while protected groups stay
	// active and meet their target before the controller lifts to see
	// whether the hold is still needed; doubled after every probe that
	// misses, up to MaxProbeAfter.
	DefaultProbeAfter = 10 * time.Second
	MaxProbeAfter     = 5 * time.Minute
)

// Options configure a Controller; zero values take the defaults.
type Options struct {
	Period     time.Duration
	QuietAfter time.Duration
	ProbeAfter time.Duration
	// Lifter says what a lifted group may do; nil: Unlimited.
	Lifter   Lifter
	Observer Observer
	// Notify is told, without blocking, of a group whose held/lifted state
	// changed, so that its status is published without waiting for the
	// next stats resync (the stats worker's Enqueue). Nil: nobody.
	Notify func(throttle.Key)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Controller is the control loop; see the package documentation. Step is
// not safe for concurrent use (Run calls it from one goroutine); State may
// be called from anywhere.
type Controller struct {
	groups Groups
	disks  Disks
	o      Options

	members map[throttle.Key]*member
	domains map[throttle.Device]*domain

	snapshot atomic.Pointer[map[throttle.Key]GroupState]
}

// New returns a controller over groups; run it with Run.
func New(groups Groups, disks Disks, o Options) *Controller {
	if o.Period <= 0 {
		o.Period = DefaultPeriod
	}
	if o.QuietAfter <= 0 {
		o.QuietAfter = DefaultQuietAfter
	}
	if o.ProbeAfter <= 0 {
		o.ProbeAfter = DefaultProbeAfter
	}
	if o.Lifter == nil {
		o.Lifter = Unlimited{}
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Notify == nil {
		o.Notify = func(throttle.Key) {}
	}
	c := &Controller{groups: groups, disks: disks, o: o,
		members: map[throttle.Key]*member{}, domains: map[throttle.Device]*domain{}}
	c.snapshot.Store(&map[throttle.Key]GroupState{})
	return c
}

// Period is the control period in force.
func (c *Controller) Period() time.Duration { return c.o.Period }

// Run steps every period until ctx ends. Elastic groups keep whatever the
// kernel holds when it returns: their spec limits once a step held them,
// or the lift; a restarted plugin re-places its groups with their spec
// limits (held) and the new controller lifts them again.
func (c *Controller) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("elastic")
	ctx = klog.NewContext(ctx, logger)
	logger.V(2).Info("Elastic controller running", "period", c.o.Period, "quietAfter", c.o.QuietAfter)
	t := time.NewTicker(c.o.Period)
	defer t.Stop()
	for {
		c.Step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// State returns the controller's view of a group as of the last step.
func (c *Controller) State(key throttle.Key) (GroupState, bool) {
	s, ok := (*c.snapshot.Load())[key]
	return s, ok
}

// States returns the view of every protected and elastic group.
func (c *Controller) States() map[throttle.Key]GroupState {
	return *c.snapshot.Load()
}

// Step runs one control period: refresh the members, sample, decide per
// disk, and write the lifts and holds that changed.
func (c *Controller) Step(ctx context.Context) {
	logger := klog.FromContext(ctx)
	now := c.o.Now()
	c.refresh(ctx, now)
	for _, d := range c.domains {
		d.resetStep()
	}
	// Pods of one protected volume share its device: read its counters
	// once per step.
	devs := map[throttle.Device]devSample{}
	for key, m := range c.members {
		if m.diskErr != nil {
			continue
		}
		d := c.domains[m.disk]
		if m.protected {
			c.sampleProtected(ctx, key, m, d, devs)
		}
		if m.elastic {
			d.elastic++
		}
	}
	for _, d := range c.domains {
		if d.elastic == 0 {
			continue
		}
		// The disk's counters are only reported: the decision rests on
		// the protected groups' own devices, so a failed read does not
		// stop it.
		st, err := c.disks.Stat(d.disk)
		if err != nil {
			logger.V(4).Info("Reading disk counters", "disk", d.disk, "err", err)
			st = d.prev
		}
		if d.decide(st, now, c.o) {
			logger.V(2).Info("Elastic groups on disk changed state", "disk", d.disk, "held", d.held, "reason", d.reason, "latency", d.latency)
		}
	}
	for key, m := range c.members {
		if m.elastic && m.diskErr == nil {
			c.apply(ctx, key, m, c.domains[m.disk], now)
		}
	}
	for _, d := range c.domains {
		if d.justHeld {
			// Measured from the start of the period in which the
			// miss happened: the miss itself is only seen at its end.
			start := d.periodStart
			if start.IsZero() {
				start = now
			}
			d.lastReaction = c.o.Now().Sub(start)
			c.o.Observer.Held(d.disk, d.lastReaction)
		}
	}
	c.publish()
}

// sampleProtected reads a protected group's counters and tells its domain
// whether it did IO in this period.
func (c *Controller) sampleProtected(ctx context.Context, key throttle.Key, m *member, d *domain, devs map[throttle.Device]devSample) {
	cnt, inc, err := c.groups.ReadCounters(key)
	if err != nil || inc != m.inc {
		if err != nil && !errors.Is(err, throttle.ErrGroupNotFound) {
			klog.FromContext(ctx).V(4).Info("Reading counters of a protected group", "group", key, "err", err)
		}
		m.havePrev = false
		return
	}
	ds, ok := devs[m.device]
	if !ok {
		ds.stat, ds.err = c.disks.Stat(m.device)
		devs[m.device] = ds
	}
	dev, err := ds.stat, ds.err
	if err != nil {
		klog.FromContext(ctx).V(4).Info("Reading the device counters of a protected group", "group", key, "err", err)
		m.havePrev = false
		return
	}
	ios := cnt.ReadIOs + cnt.WriteIOs
	d.protected++
	if m.havePrev && ios > m.prevIOs {
		d.activeNow = true
		lat, n := dev.Latency(m.prevDev)
		m.latency = lat
		if n > 0 && lat > m.target && (!d.missed || lat-m.target > d.missBy) {
			d.missed, d.missBy, d.missLat, d.missTarget = true, lat-m.target, lat, m.target
		}
	}
	m.prevIOs, m.prevDev, m.havePrev = ios, dev, true
}

// apply writes the domain's decision to one elastic group if it changed,
// and counts its time held.
func (c *Controller) apply(ctx context.Context, key throttle.Key, m *member, d *domain, now time.Time) {
	if m.held && !m.lastStep.IsZero() {
		m.heldTime += now.Sub(m.lastStep)
	}
	m.lastStep = now
	var want *throttle.Limits
	if !d.held {
		st, ok := c.groups.Get(key)
		if !ok {
			return
		}
		l := c.o.Lifter.Lifted(st)
		want = &l
	}
	if m.applied && m.held == (want == nil) && (want == nil || *want == m.lift) {
		return
	}
	if err := c.groups.SetLift(key, want); err != nil {
		if !errors.Is(err, throttle.ErrGroupNotFound) {
			klog.FromContext(ctx).Error(err, "Changing the lift of an elastic group; retrying next period", "group", key)
		}
		return
	}
	wasHeld := m.held
	m.applied, m.held = true, want == nil
	if want != nil {
		m.lift = *want
	}
	if m.held && !wasHeld {
		m.holds++
	}
	if m.held != wasHeld {
		c.o.Notify(key)
	}
}

// devSample is one step's read of a device's counters.
type devSample struct {
	stat DiskStat
	err  error
}

func (c *Controller) publish() {
	snap := make(map[throttle.Key]GroupState, len(c.members))
	for key, m := range c.members {
		s := GroupState{Protected: m.protected, Target: m.target, Elastic: m.elastic, Held: true,
			HeldTime: m.heldTime, Holds: m.holds}
		if m.diskErr != nil {
			s.Reason = "no disk to watch, limits stay held: " + m.diskErr.Error()
			s.Since = m.since
		} else if d := c.domains[m.disk]; d != nil {
			s.Disk, s.Held, s.Since, s.Reason = d.disk.String(), d.held, d.since, d.reason
			s.DiskLatency, s.LastReaction = d.latency, d.lastReaction
			if m.protected {
				s.Latency = m.latency
			}
			if m.elastic && m.applied {
				s.Held = m.held
			}
		}
		snap[key] = s
	}
	c.snapshot.Store(&snap)
}
