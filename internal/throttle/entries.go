package throttle

import (
	"slices"
	"sync"
)

// entryID names one kernel entry: the limits of one device in one cgroup.
type entryID struct {
	dir string
	dev Device
}

// entrySet is the entries a group holds: its pod cgroup, a few containers
// and at most one root-level or kubepods line. A slice, not a map, for the
// same reason as holdings.
type entrySet []entryID

func (s entrySet) has(id entryID) bool { return slices.Contains(s, id) }

// add puts id in s unless it is there.
func (s *entrySet) add(id entryID) {
	if !s.has(id) {
		*s = append(*s, id)
	}
}

// remove takes id out of s.
func (s *entrySet) remove(id entryID) {
	*s = slices.DeleteFunc(*s, func(x entryID) bool { return x == id })
}

// entries reference-counts kernel entries. Several groups can need the
// same entry — volume scope's kubepods line (v2) or root-level line (v1)
// for a device is shared by every pod of the volume, and Degraded groups
// share the same fallback — so an entry is held per group incarnation and
// the kernel gets the strictest of its holders' limits. Lifting one holder
// rewrites the entry for the others and clears it only with the last one.
//
// Locking: mu guards the map and the pins only (never IO). Each entry has
// its own lock, held while its file is written, so that two holders of one
// entry cannot interleave a compute-and-write, while writes of other
// entries go on in parallel. The entry lock is only ever taken without mu.
type entries struct {
	backend Backend

	mu sync.Mutex
	m  map[entryID]*entry
}

type entry struct {
	pins int // goroutines using this entry; guarded by entries.mu

	mu      sync.Mutex
	holders holdings // guarded by mu
	written Limits   // what the kernel holds, if known; guarded by mu
	known   bool     // whether written is known; guarded by mu
}

// holdings are the limits an entry's holders ask for, one per group
// incarnation. A slice, not a map: an entry has one holder but for a
// volume-scope line shared by the pods of one volume, every write already
// walks them all (strictest), and a map's first insert costs a
// 300-byte table on the publish path for each new entry.
type holdings []holding

type holding struct {
	inc    uint64
	limits Limits
}

// find returns the index of inc's holding, or -1.
func (hs holdings) find(inc uint64) int {
	for i, h := range hs {
		if h.inc == inc {
			return i
		}
	}
	return -1
}

// set makes inc hold l and returns what it held before, if anything.
func (hs *holdings) set(inc uint64, l Limits) (old Limits, had bool) {
	if i := hs.find(inc); i >= 0 {
		old, (*hs)[i].limits = (*hs)[i].limits, l
		return old, true
	}
	*hs = append(*hs, holding{inc, l})
	return Limits{}, false
}

// drop removes inc's holding and returns what it held, if anything.
func (hs *holdings) drop(inc uint64) (old Limits, had bool) {
	i := hs.find(inc)
	if i < 0 {
		return Limits{}, false
	}
	old = (*hs)[i].limits
	*hs = slices.Delete(*hs, i, i+1)
	return old, true
}

func newEntries(b Backend) *entries {
	return &entries{backend: b, m: map[entryID]*entry{}}
}

func (r *entries) pin(id entryID) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.m[id]
	if e == nil {
		e = &entry{}
		r.m[id] = e
	}
	e.pins++
	return e
}

func (r *entries) unpin(id entryID, e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.pins--
	// With no pins nobody else can reach e, so reading holders is safe.
	if e.pins == 0 && len(e.holders) == 0 {
		delete(r.m, id)
	}
}

// hold makes holder a holder of id with limits l and writes the entry if
// what the kernel must hold changed (always on the first hold, since the
// kernel may hold anything left from an earlier run). On a write error
// nothing changes.
func (r *entries) hold(id entryID, holder uint64, l Limits) error {
	e := r.pin(id)
	defer r.unpin(id, e)
	e.mu.Lock()
	defer e.mu.Unlock()
	old, had := e.holders.set(holder, l)
	if err := r.sync(id, e); err != nil {
		if had {
			e.holders.set(holder, old)
		} else {
			e.holders.drop(holder)
		}
		return err
	}
	return nil
}

// release drops holder from id and rewrites (or clears) the entry. An entry
// whose cgroup or device has gone away is released without error. On any
// other write error the holder stays, so that the release can be retried.
func (r *entries) release(id entryID, holder uint64) error {
	e := r.pin(id)
	defer r.unpin(id, e)
	e.mu.Lock()
	defer e.mu.Unlock()
	old, had := e.holders.drop(holder)
	if !had {
		return nil
	}
	if err := r.sync(id, e); err != nil && !isGone(err) {
		e.holders.set(holder, old)
		return err
	}
	return nil
}

// forget drops holder from id without touching the kernel: the cgroup is
// known to be gone, and with it its entry.
func (r *entries) forget(id entryID, holder uint64) {
	e := r.pin(id)
	defer r.unpin(id, e)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.holders.drop(holder)
	e.known = false
}

// sync writes the strictest limits of e's holders if they differ from what
// was last written. Called with e.mu held.
func (r *entries) sync(id entryID, e *entry) error {
	want := strictest(e.holders)
	if e.known && e.written == want {
		return nil
	}
	if err := r.backend.WriteLimits(id.dir, id.dev, want); err != nil {
		e.known = false
		return err
	}
	e.written, e.known = want, true
	return nil
}

// strictest combines limits knob by knob: the smallest set value wins, and
// a knob is unlimited only if every holder leaves it unlimited. So one
// holder can never lift a limit another holder still needs.
func strictest(hs holdings) Limits {
	var out Limits
	for _, h := range hs {
		l := h.limits
		out.ReadBytesPerSecond = minSet(out.ReadBytesPerSecond, l.ReadBytesPerSecond)
		out.WriteBytesPerSecond = minSet(out.WriteBytesPerSecond, l.WriteBytesPerSecond)
		out.ReadIOPS = minSet(out.ReadIOPS, l.ReadIOPS)
		out.WriteIOPS = minSet(out.WriteIOPS, l.WriteIOPS)
	}
	return out
}

func minSet(a, b uint64) uint64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
