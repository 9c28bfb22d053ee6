package throttle

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"k8s.io/klog/v2"
)

func validate(key Key, spec Spec) error {
	switch {
	case key.VolumeID == "":
		return fmt.Errorf("%w: empty volume ID", ErrInvalidSpec)
	case key.PodUID != spec.Pod.UID:
		return fmt.Errorf("%w: key pod UID %q differs from spec pod UID %q", ErrInvalidSpec, key.PodUID, spec.Pod.UID)
	case spec.Pod.UID != "" && !ValidPodUID(spec.Pod.UID):
		return fmt.Errorf("%w: pod UID %q is not a kubelet pod UID", ErrInvalidSpec, spec.Pod.UID)
	case spec.Device == Device{}:
		return fmt.Errorf("%w: no device", ErrInvalidSpec)
	case spec.Scope != ScopePod && spec.Scope != ScopeVolume:
		return fmt.Errorf("%w: scope %q is not %q or %q", ErrInvalidSpec, spec.Scope, ScopePod, ScopeVolume)
	}
	return nil
}

// Ensure makes the kernel enforce spec for key and returns the group's
// phase. It is idempotent: the same spec again is a no-op; new limits are
// applied live; another device, scope or pod moves the entries.
//
// When it returns nil, the limits are on every cgroup the scope calls for
// that exists now (invariant 3) — or, if the pod cgroup cannot be found,
// the volume-scope fallback entries are (PhaseDegraded) and the worker
// retries placement. It never waits for stats or the apiserver: its IO is a
// handful of stat calls, one directory read and the limit writes.
func (t *Table) Ensure(ctx context.Context, key Key, spec Spec) (Phase, error) {
	if err := validate(key, spec); err != nil {
		return "", err
	}
	for {
		g, created := t.getOrCreate(key)
		g.mu.Lock()
		if g.removed {
			// Removed between lookup and lock: it left the map, so the
			// next round creates a new incarnation.
			g.mu.Unlock()
			continue
		}
		err := t.ensureLocked(g, spec)
		if err != nil && !g.placed {
			t.dropLocked(klog.FromContext(ctx), g)
		}
		g.mu.Unlock()
		// The logger is looked up only to log: on the publish path that
		// is rare, and WithValues allocates.
		if err != nil {
			klog.FromContext(ctx).Error(err, "Ensuring throttle group failed", "group", key)
			return "", err
		}
		if logger := klog.FromContext(ctx).V(2); created && logger.Enabled() {
			logger.Info("Throttle group created", "group", key, "spec", spec, "incarnation", g.inc, "placement", g.placement().message)
		}
		t.notify(key)
		return phaseOf(g.placement(), g.stats.Load()), nil
	}
}

func (t *Table) ensureLocked(g *group, spec Spec) error {
	switch {
	case !g.placed:
		return t.place(g, spec)
	case g.spec == spec:
		return nil
	case withLimits(g.spec, spec.Limits) == spec:
		return t.setLimits(g, spec.Limits)
	}
	return t.place(g, spec)
}

// lockPlaced returns the key's group, placed and not removed, with its mu
// held.
func (t *Table) lockPlaced(key Key) (*group, error) {
	g := t.lookup(key)
	if g == nil {
		return nil, fmt.Errorf("%w: %s", ErrGroupNotFound, key)
	}
	g.mu.Lock()
	if g.removed || !g.placed {
		g.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrGroupNotFound, key)
	}
	return g, nil
}

func withLimits(s Spec, l Limits) Spec {
	s.Limits = l
	return s
}

// Update applies new limits to every entry of the group, live.
func (t *Table) Update(ctx context.Context, key Key, l Limits) error {
	g, err := t.lockPlaced(key)
	if err != nil {
		return err
	}
	defer g.mu.Unlock()
	if g.spec.Limits == l {
		return nil
	}
	if err := t.setLimits(g, l); err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Throttle group limits updated", "group", key, "limits", l)
	t.notify(key)
	return nil
}

// setLimits rewrites every entry. On an error the spec keeps the old limits,
// so that a retry writes all entries again (the ones already right cost
// nothing: the entry table skips unchanged writes).
func (t *Table) setLimits(g *group, l Limits) error {
	if err := t.holdAll(g, l); err != nil {
		return fmt.Errorf("updating limits of %s: %w", g.key, err)
	}
	g.spec.Limits = l
	g.publish(t.backend.Version())
	return nil
}

// holdAll makes every entry the group holds carry what the kernel must
// hold for a spec asking for l (kernelLimits: the lift, or l raised by the
// boost). It stops at the first entry that fails; the caller puts back what
// it changed in the group, and a retry rewrites every entry. Called with
// g.mu held.
func (t *Table) holdAll(g *group, l Limits) error {
	want := g.kernelLimits(l)
	for _, id := range g.held {
		if err := t.entries.hold(id, g.inc, want); err != nil {
			return err
		}
	}
	return nil
}

// Remove lifts every entry the group owns (entries other groups still hold
// keep their limits), stops watching its pod cgroup and forgets it. It never
// removes cgroups: it never created any. Removing an unknown key succeeds.
// If an entry cannot be lifted the group stays, holding what is left, and
// the error says what; Remove can be called again.
func (t *Table) Remove(ctx context.Context, key Key) error {
	g := t.lookup(key)
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.removed {
		return nil
	}
	if err := t.liftLocked(g); err != nil {
		g.publish(t.backend.Version())
		return fmt.Errorf("removing %s: %w", key, err)
	}
	logger := klog.FromContext(ctx)
	t.dropLocked(logger, g)
	if v := logger.V(2); v.Enabled() { // its arguments would escape even when off
		v.Info("Throttle group removed", "group", key, "incarnation", g.inc)
	}
	// The worker finds the key gone and has its sinks forget it (invariant 8).
	t.notify(key)
	return nil
}

// liftLocked releases all entries of g and its watch.
func (t *Table) liftLocked(g *group) error {
	t.unwatchLocked(g)
	var errs []error
	g.held = slices.DeleteFunc(g.held, func(id entryID) bool {
		err := t.entries.release(id, g.inc)
		if err != nil {
			errs = append(errs, err)
		}
		return err == nil
	})
	return errors.Join(errs...)
}

// dropLocked lifts what it can and takes g out of the table.
func (t *Table) dropLocked(logger klog.Logger, g *group) {
	if err := t.liftLocked(g); err != nil {
		logger.Error(err, "Lifting entries of a group that failed to place", "group", g.key)
	}
	g.removed = true
	t.forgetGroup(g)
}

func (t *Table) unwatchLocked(g *group) {
	if g.watching != "" && t.watcher != nil {
		t.watcher.Unwatch(g.watching, g.key)
	}
	g.watching = ""
}
