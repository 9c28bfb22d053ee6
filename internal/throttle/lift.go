package throttle

import (
	"context"
	"fmt"
	"time"

	"k8s.io/klog/v2"
)

// SetLift makes the kernel hold lifted instead of the spec's limits on
// every entry of the group, or, with lifted nil, the spec's limits again.
// The spec itself does not change: status, re-placement and live edits
// keep the limits the user asked for, and a lift survives them (a container
// that appears while the group is lifted gets the lifted limits). The
// elastic controller uses it to make limits work-conserving; see
// docs/elastic.md.
func (t *Table) SetLift(key Key, lifted *Limits) error {
	g, err := t.lockPlaced(key)
	if err != nil {
		return err
	}
	defer g.mu.Unlock()
	if (g.lift == nil && lifted == nil) || (g.lift != nil && lifted != nil && *g.lift == *lifted) {
		return nil
	}
	old := g.lift
	if lifted != nil {
		l := *lifted
		g.lift = &l
	} else {
		g.lift = nil
	}
	if err := t.holdAll(g, g.spec.Limits); err != nil {
		// Keep the old lift so that the table describes the entries that
		// did not change; a retry rewrites them all.
		g.lift = old
		return fmt.Errorf("lifting limits of %s: %w", key, err)
	}
	g.publish(t.backend.Version())
	klog.V(4).InfoS("Throttle group lift changed", "group", key, "lifted", lifted != nil, "kernelLimits", g.kernelLimits(g.spec.Limits))
	return nil
}

// kernelLimits is what the kernel must hold for the group when its spec
// asks for l: the lift while there is one (the elastic controller's say
// wins: a lift is at least the burst rate, see elastic.BurstOrUnlimited),
// else l raised by the burst controller's boost. Called with g.mu held.
func (g *group) kernelLimits(l Limits) Limits {
	if g.lift != nil {
		return *g.lift
	}
	return Raise(l, g.boost)
}

// SetProtection changes whether the group is latency-protected (target) or
// elastic, live: a VolumeAttributesClass may change both. The elastic
// controller reads them from the group's status at its next period; a group
// that stops being elastic while lifted gets its own limits back at once.
func (t *Table) SetProtection(ctx context.Context, key Key, target time.Duration, elastic bool) error {
	g, err := t.lockPlaced(key)
	if err != nil {
		return err
	}
	defer g.mu.Unlock()
	if g.spec.LatencyTarget == target && g.spec.Elastic == elastic {
		return nil
	}
	if !elastic && g.lift != nil {
		lift := g.lift
		g.lift = nil
		if err := t.setLimits(g, g.spec.Limits); err != nil {
			g.lift = lift
			return err
		}
	}
	g.spec.LatencyTarget, g.spec.Elastic = target, elastic
	g.publish(t.backend.Version())
	klog.FromContext(ctx).V(2).Info("Throttle group protection changed", "group", key, "latencyTarget", target, "elastic", elastic)
	t.notify(key)
	return nil
}
