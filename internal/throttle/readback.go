package throttle

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/klog/v2"
)

// EntryCheck is what one readback found for one kernel entry of a group.
type EntryCheck struct {
	Cgroup string
	Device Device
	// Found is what the kernel held; Want what the entry must hold (the
	// strictest of its holders' limits, which for an entry shared by
	// several groups may be stricter than this group's own).
	Found, Want Limits
	// Err says why the entry could not be read or restored ("" if it was).
	Err string
}

func (c EntryCheck) String() string {
	if c.Err != "" {
		return fmt.Sprintf("%s for %s: %s", c.Cgroup, c.Device, c.Err)
	}
	return fmt.Sprintf("%s held %s for %s, want %s", c.Cgroup, c.Found, c.Device, c.Want)
}

// Readback is the outcome of the last comparison of a group's kernel
// entries with what the table placed. The zero value: not read back yet.
type Readback struct {
	// At is when the entries were read; Entries how many were compared.
	At      time.Time
	Entries int
	// Repaired are the entries this pass found missing or different and
	// wrote again; Failed the ones it could not read or restore.
	Repaired []EntryCheck
	Failed   []EntryCheck
	// Repairs counts the repaired entries over the group's life.
	Repairs uint64
}

// Holds reports whether the last readback found every entry holding its
// limits (after repairs).
func (r Readback) Holds() bool { return !r.At.IsZero() && len(r.Failed) == 0 }

// Readback reads every kernel entry of the group back from the kernel and
// rewrites the ones that differ from what the table placed: an admin's
// script, a runtime re-creating a cgroup or an agent that owns a cgroup
// file may have changed or cleared them behind the plugin's back. The table
// is never trusted for what the kernel holds. An entry whose cgroup went
// away (a container that exited) is skipped: the watcher or the next
// Reconcile forgets it. Per-entry failures are reported in the result, not
// as the error, so that the stats of the group are still sampled.
//
// It holds the group's lock (like Reconcile), and each entry's lock while
// that entry is read and rewritten, so a concurrent limit change of a
// group sharing the entry is never mistaken for tampering. Its IO is one
// read of the limit file(s) per entry, plus a write per repaired entry.
func (t *Table) Readback(key Key) (Readback, error) {
	g, err := t.lockPlaced(key)
	if err != nil {
		return Readback{}, err
	}
	defer g.mu.Unlock()
	rb := Readback{At: time.Now()}
	if prev := g.readback.Load(); prev != nil {
		rb.Repairs = prev.Repairs
	}
	ids := slices.Clone(g.held)
	slices.SortFunc(ids, func(a, b entryID) int { return strings.Compare(a.dir, b.dir) })
	for _, id := range ids {
		c, repaired, err := t.entries.verify(id)
		switch {
		case err != nil && isGone(err) && id.dir != g.pod && id.dir != t.backend.Hierarchy():
			continue // the container's cgroup went away with it
		case err != nil:
			c.Err = err.Error()
			rb.Failed = append(rb.Failed, c)
		case repaired:
			rb.Repaired = append(rb.Repaired, c)
		}
		rb.Entries++
	}
	if n := len(rb.Repaired); n > 0 {
		rb.Repairs += uint64(n)
		t.repairs.Add(uint64(n))
		klog.InfoS("Restored throttle limits that were changed behind the plugin's back", "group", key, "entries", checkStrings(rb.Repaired))
	}
	if len(rb.Failed) > 0 {
		klog.ErrorS(nil, "Throttle limits are not in the kernel and could not be restored", "group", key, "entries", checkStrings(rb.Failed))
	}
	g.readback.Store(&rb)
	return rb, nil
}

// Repairs counts the kernel entries the readback restored on this node
// (csi_blkio_limit_repairs_total).
func (t *Table) Repairs() uint64 { return t.repairs.Load() }

// verify reads id's entry back and rewrites it when the kernel holds
// anything else than the strictest limits of its holders. It reports what
// it found and whether it wrote.
func (r *entries) verify(id entryID) (EntryCheck, bool, error) {
	e := r.pin(id)
	defer r.unpin(id, e)
	e.mu.Lock()
	defer e.mu.Unlock()
	c := EntryCheck{Cgroup: id.dir, Device: id.dev, Want: strictest(e.holders)}
	found, err := r.backend.ReadLimits(id.dir, id.dev)
	if err != nil {
		return c, false, fmt.Errorf("read back: %w", err)
	}
	c.Found = found
	if found == c.Want {
		e.written, e.known = c.Want, true
		return c, false, nil
	}
	e.known = false // forces the write
	if err := r.sync(id, e); err != nil {
		return c, false, fmt.Errorf("held %s, want %s; restoring failed: %w", found, c.Want, err)
	}
	return c, true, nil
}

func checkStrings(cs []EntryCheck) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}
