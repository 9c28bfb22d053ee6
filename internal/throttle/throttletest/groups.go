package throttletest

import (
	"sync"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Groups is a table of group snapshots the test sets. It answers Keys and
// Get as *throttle.Table does, for the readers of the table (the metrics
// collector, the elastic controller) tested without a kernel.
// It is safe for concurrent use: the readers run in their own goroutines.
type Groups struct {
	mu sync.Mutex
	m  map[throttle.Key]throttle.GroupStatus
}

// NewGroups returns an empty table.
func NewGroups() *Groups {
	return &Groups{m: map[throttle.Key]throttle.GroupStatus{}}
}

// Keys lists the groups, in no order (as the table's map does).
func (g *Groups) Keys() []throttle.Key {
	g.mu.Lock()
	defer g.mu.Unlock()
	ks := make([]throttle.Key, 0, len(g.m))
	for k := range g.m {
		ks = append(ks, k)
	}
	return ks
}

// Get returns the snapshot of k.
func (g *Groups) Get(k throttle.Key) (throttle.GroupStatus, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st, ok := g.m[k]
	return st, ok
}

// Set adds st, or replaces the group of st.Key.
func (g *Groups) Set(st throttle.GroupStatus) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m[st.Key] = st
}

// Remove drops the group of k.
func (g *Groups) Remove(k throttle.Key) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.m, k)
}

// Update changes the group of k in place with change, atomically with
// respect to the readers, and reports false if there is no such group.
func (g *Groups) Update(k throttle.Key, change func(*throttle.GroupStatus)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	st, ok := g.m[k]
	if !ok {
		return false
	}
	change(&st)
	g.m[k] = st
	return true
}
