package throttle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// watchHandler receives the watcher's reports for the table. Its methods run
// on the watcher's goroutine: a new container's limit is written there,
// right away (a few file writes), never on the publish path.
type watchHandler struct{ t *Table }

func (h watchHandler) ChildCreated(key Key, dir, child string) {
	t := h.t
	g := t.lookup(key)
	if g == nil {
		return
	}
	g.mu.Lock()
	placedNew, err := t.placeChildLocked(g, dir, child)
	if err != nil {
		// The worker's next pass lists the children again and retries.
		g.mustScan = true
	}
	g.mu.Unlock()
	if err != nil {
		klog.ErrorS(err, "Placing limits on a new container cgroup", "group", key, "cgroup", child)
	}
	if placedNew {
		klog.V(4).InfoS("Limits placed on new container cgroup", "group", key, "cgroup", child)
	}
	t.notify(key)
}

func (h watchHandler) ChildRemoved(key Key, dir, child string) {
	t := h.t
	g := t.lookup(key)
	if g == nil {
		return
	}
	g.mu.Lock()
	id := entryID{child, g.spec.Device}
	if g.held.has(id) && !g.removed && g.watching == dir {
		t.entries.forget(id, g.inc)
		g.held.remove(id)
		g.publish(t.backend.Version())
	}
	g.mu.Unlock()
	// v1 drops a removed cgroup's counts from its ancestors' recursive
	// files some milliseconds after rmdir: a prompt sample keeps them.
	t.notify(key)
}

func (h watchHandler) Overflow(keys []Key) {
	klog.InfoS("Inotify queue overflowed; rescanning the container cgroups of every watched group", "groups", len(keys))
	for _, k := range keys {
		if g := h.t.lookup(k); g != nil {
			g.mu.Lock()
			g.mustScan = true
			g.mu.Unlock()
		}
		h.t.notify(k)
	}
}

// placeChildLocked gives child (a new cgroup below the watched pod cgroup
// dir) the group's limits. Called with g.mu held.
func (t *Table) placeChildLocked(g *group, dir, child string) (bool, error) {
	if g.removed || !g.placed || g.watching != dir {
		return false, nil
	}
	id := entryID{child, g.spec.Device}
	if g.held.has(id) {
		return false, nil
	}
	if err := t.entries.hold(id, g.inc, g.kernelLimits(g.spec.Limits)); err != nil {
		if t.cgroupGone(child, id.dev, err) {
			return false, nil // removed again already: nothing to throttle
		}
		return false, err
	}
	g.held.add(id)
	g.publish(t.backend.Version())
	return true, nil
}

// cgroupGone reports whether err came from writing to a cgroup that has
// been removed meanwhile: the file is gone (ENOENT), or the cgroup is
// dying, for which v1 blkio answers ENODEV like for a missing device.
// A dying cgroup can still be listed for a moment after the write failed,
// so ENODEV while the device itself is known to the kernel
// (/sys/dev/block/MAJ:MIN exists) also counts as the cgroup going away.
func (t *Table) cgroupGone(dir string, dev Device, err error) bool {
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if _, serr := t.backend.FS().Stat(dir); errors.Is(serr, fs.ErrNotExist) {
		return true
	}
	if errors.Is(err, unix.ENODEV) {
		_, derr := os.Stat("/sys/dev/block/" + dev.String())
		return derr == nil
	}
	return false
}

// Reconcile is the stats worker's placement pass over one group: a
// Degraded group retries placement (and becomes Active when its pod cgroup
// has appeared); on v1 the pod cgroup's children are listed again and any
// container without the limits gets them — belt and braces for a lost
// inotify event — and entries of containers that went away are dropped.
// Its IO is bounded like Ensure's.
//
// The watcher places every new container within milliseconds, so the
// listing runs on one pass in RescanEvery only, and on the next pass after
// a failed placement or an inotify overflow. Listing on every pass cost a
// stats sync 40% more than the read of the group's two stat files
// (docs/benchmarks.md, section 4).
func (t *Table) Reconcile(ctx context.Context, key Key) error {
	logger := klog.FromContext(ctx)
	g, err := t.lockPlaced(key)
	if err != nil {
		return err
	}
	defer g.mu.Unlock()
	if g.degraded {
		if err := t.place(g, g.spec); err != nil {
			return fmt.Errorf("retrying placement of %s: %w", key, err)
		}
		if !g.degraded {
			logger.Info("Degraded throttle group placed on its pod cgroup", "group", key, "placement", g.message)
		}
		return nil
	}
	if g.watching == "" {
		return nil
	}
	if g.sinceScan++; !g.mustScan && g.sinceScan < t.rescanEvery {
		return nil
	}
	g.sinceScan, g.mustScan = 0, false
	kids, err := t.children(g.watching)
	if err != nil {
		return fmt.Errorf("listing containers of %s: %w", g.watching, err)
	}
	present := map[string]bool{g.watching: true}
	var errs []error
	for _, k := range kids {
		present[k] = true
		placed, err := t.placeChildLocked(g, g.watching, k)
		if err != nil {
			errs = append(errs, err)
		} else if placed {
			logger.Info("Limits placed on a container cgroup the watcher missed", "group", key, "cgroup", k)
		}
	}
	changed := false
	g.held = slices.DeleteFunc(g.held, func(id entryID) bool {
		if filepath.Dir(id.dir) == g.watching && !present[id.dir] {
			t.entries.forget(id, g.inc)
			changed = true
			return true
		}
		return false
	})
	if changed {
		g.publish(t.backend.Version())
	}
	if len(errs) > 0 {
		g.mustScan = true
	}
	return errors.Join(errs...)
}

// ReadCounters reads the group's counters from its stats cgroup and returns
// them with the incarnation they belong to. It takes no lock but the map's.
func (t *Table) ReadCounters(key Key) (Counters, uint64, error) {
	g := t.lookup(key)
	if g == nil {
		return Counters{}, 0, fmt.Errorf("%w: %s", ErrGroupNotFound, key)
	}
	p := g.placement()
	if !p.placed {
		return Counters{}, g.inc, fmt.Errorf("group %s is not placed yet", key)
	}
	c, err := t.backend.ReadCounters(p.statsDir, p.spec.Device)
	if err != nil {
		return Counters{}, g.inc, fmt.Errorf("reading counters of %s for %s: %w", p.statsDir, p.spec.Device, err)
	}
	return c, g.inc, nil
}

// InstallStats installs s as the group's latest sample if the group still
// is incarnation inc, and reports whether it did. A sample computed for an
// older incarnation (the key was removed and re-created meanwhile) is
// discarded (invariant 7).
func (t *Table) InstallStats(key Key, inc uint64, s Stats) bool {
	g := t.lookup(key)
	if g == nil || g.inc != inc {
		return false
	}
	s.Pending = false
	g.stats.Store(&s)
	return true
}

// SetCondition sets (or, with set false, clears) a condition on the group
// if it still is incarnation inc. Since is kept while the condition holds.
func (t *Table) SetCondition(key Key, inc uint64, c Condition, set bool) bool {
	g := t.lookup(key)
	if g == nil || g.inc != inc {
		return false
	}
	for {
		old := g.conds.Load()
		var next []Condition
		found := false
		if old != nil {
			for _, oc := range *old {
				if oc.Type != c.Type {
					next = append(next, oc)
					continue
				}
				found = true
				if set {
					c.Since = oc.Since
					next = append(next, c)
				}
			}
		}
		if !found && !set {
			return true
		}
		if !found {
			if c.Since.IsZero() {
				c.Since = time.Now()
			}
			next = append(next, c)
		}
		if g.conds.CompareAndSwap(old, &next) {
			return true
		}
	}
}
