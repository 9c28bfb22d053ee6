package throttle

import "sync"

// entryID names one kernel entry: the limits of one device in one cgroup.
type entryID struct {
	dir string
	dev Device
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
	holders map[uint64]Limits // by group incarnation; guarded by mu
	written Limits            // what the kernel holds, if known; guarded by mu
	known   bool              // whether written is known; guarded by mu
}

func newEntries(b Backend) *entries {
	return &entries{backend: b, m: map[entryID]*entry{}}
}

func (r *entries) pin(id entryID) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.m[id]
	if e == nil {
		e = &entry{holders: map[uint64]Limits{}}
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
	old, had := e.holders[holder]
	e.holders[holder] = l
	if err := r.sync(id, e); err != nil {
		if had {
			e.holders[holder] = old
		} else {
			delete(e.holders, holder)
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
	old, had := e.holders[holder]
	if !had {
		return nil
	}
	delete(e.holders, holder)
	if err := r.sync(id, e); err != nil && !isGone(err) {
		e.holders[holder] = old
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
	delete(e.holders, holder)
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
func strictest(ls map[uint64]Limits) Limits {
	var out Limits
	for _, l := range ls {
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
