// Package burst runs the credit buckets of the throttle groups that have a
// burst (<L>Burst, burstSeconds): it samples only those groups, often
// enough to switch within a tick of a bucket running dry, and moves the
// kernel between the burst rate and the baseline through the throttle
// table's boost. It runs on its own goroutine: the publish path only tells
// it which groups to watch (a map operation), and every kernel write it
// makes is the table's, under the group's own lock.
package burst

import (
	"context"
	"sync"
	"time"

	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// DefaultInterval is how often a group with a burst is sampled. A quarter
// second keeps the switch to the baseline well inside a second of the
// bucket emptying, at a cost per group measured in docs/benchmarks.md.
const DefaultInterval = 250 * time.Millisecond

// persistEvery bounds how much bucket history a crash can lose.
const persistEvery = 2 * time.Second

// Config is a group's burst: the rates of the limits that have one and how
// long a full bucket sustains them. The baseline is not part of it: it is
// whatever the table holds as the group's limits (the volume's parameters,
// computed for its capacity, or a live edit), read at every tick.
type Config struct {
	Rates   throttle.Limits
	Seconds uint64
}

// Groups is what the controller needs of the throttle table.
type Groups interface {
	Get(throttle.Key) (throttle.GroupStatus, bool)
	ReadCounters(throttle.Key) (throttle.Counters, uint64, error)
	SetBoost(key throttle.Key, inc uint64, boost throttle.Limits, state *throttle.BurstState) error
}

var _ Groups = (*throttle.Table)(nil)

// Options configure a Controller.
type Options struct {
	// Interval between samples (default DefaultInterval).
	Interval time.Duration
	// StateFile persists the buckets across restarts ("" = not persisted).
	StateFile string
}

// Controller owns the buckets of every tracked group.
type Controller struct {
	groups   Groups
	interval time.Duration
	store    *store // nil: not persisted
	// savedEmpty: the last persist wrote no group (owned by Run's goroutine).
	savedEmpty bool

	mu      sync.Mutex // guards tracked and saved; never held across IO
	tracked map[throttle.Key]*group
	saved   map[throttle.Key]savedGroup // loaded at start, taken by Track
}

// group is a tracked group's state. cfg is guarded by Controller.mu; the
// rest belongs to the goroutine running step.
type group struct {
	cfg     Config
	buckets [4]*bucket // by knob index, nil without a burst
	inc     uint64
	last    throttle.Counters
	lastAt  time.Time
	primed  bool
	// resume is the persisted state to charge the downtime from, until
	// the first reading after a restart.
	resume *savedGroup
}

// New returns a controller over groups, with the buckets a previous run
// persisted (a file that cannot be read is logged and started afresh: a
// lost bucket must not keep the plugin from starting).
func New(groups Groups, o Options) *Controller {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	c := &Controller{groups: groups, interval: o.Interval, tracked: map[throttle.Key]*group{}, saved: map[throttle.Key]savedGroup{}}
	if o.StateFile != "" {
		c.store = &store{path: o.StateFile}
		saved, err := c.store.load()
		if err != nil {
			klog.ErrorS(err, "Burst buckets not restored; every bucket starts full", "file", o.StateFile)
		}
		c.saved = saved
		// A node without bursts never writes the file.
		c.savedEmpty = len(saved) == 0
	}
	return c
}

// Track has the controller watch key with cfg, or forget it when cfg has
// no burst. It is a map operation: the publish path may call it. A group
// tracked again with the same config keeps its buckets.
func (c *Controller) Track(key throttle.Key, cfg Config) {
	if cfg.Rates.IsUnlimited() || cfg.Seconds == 0 {
		c.Forget(key)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.tracked[key]; g != nil {
		g.cfg = cfg // the buckets reshape at the next tick
		return
	}
	g := &group{cfg: cfg}
	if s, ok := c.saved[key]; ok {
		delete(c.saved, key)
		g.resume = &s
	}
	c.tracked[key] = g
}

// Forget stops watching key; its bucket is dropped (the volume was
// unpublished from the pod: a new publish starts with a full bucket).
func (c *Controller) Forget(key throttle.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tracked, key)
	delete(c.saved, key)
}

// drop forgets key if it still is g (not tracked anew meanwhile).
func (c *Controller) drop(key throttle.Key, g *group) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tracked[key] == g {
		delete(c.tracked, key)
	}
}

// Len is the number of tracked groups.
func (c *Controller) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tracked)
}

// Run samples every tracked group each interval until ctx ends, then
// persists the buckets a last time.
func (c *Controller) Run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	logger.V(2).Info("Starting burst controller", "interval", c.interval)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	lastSave := time.Now()
	for {
		select {
		case <-ctx.Done():
			c.persist(ctx)
			logger.V(2).Info("Burst controller stopped")
			return
		case now := <-t.C:
			c.step(ctx, now)
			if now.Sub(lastSave) >= persistEvery {
				c.persist(ctx)
				lastSave = now
			}
		}
	}
}

// entry is one tracked group as a tick sees it.
type entry struct {
	key throttle.Key
	g   *group
	cfg Config
}

func (c *Controller) snapshot() []entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]entry, 0, len(c.tracked))
	for k, g := range c.tracked {
		out = append(out, entry{k, g, g.cfg})
	}
	return out
}

// step samples every tracked group once at now.
func (c *Controller) step(ctx context.Context, now time.Time) {
	for _, e := range c.snapshot() {
		c.sync(ctx, e, now)
	}
}
