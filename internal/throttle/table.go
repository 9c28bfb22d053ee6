package throttle

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrGroupNotFound is returned for a key the table does not hold.
var ErrGroupNotFound = errors.New("throttle group not found")

// ErrPodCgroupRequired wraps the refusal of a v1 placement that found no
// pod cgroup (see Options.AcceptUnheldV1); the driver maps it to
// FailedPrecondition.
var ErrPodCgroupRequired = errors.New("the pod cgroup is required on cgroup v1")

// ErrInvalidSpec wraps every refusal of a spec (the driver maps it to
// InvalidArgument).
var ErrInvalidSpec = errors.New("invalid throttle spec")

// Options configure a Table.
type Options struct {
	// Backend is the cgroup hierarchy to work on (see DetectBackend).
	Backend Backend
	// KubeletCgroupRoot is kubelet's --cgroup-root, relative to the
	// hierarchy ("" = the hierarchy root). Pod cgroups are looked up below it.
	KubeletCgroupRoot string
	// Notify is told, without blocking, that a key needs the stats
	// worker's attention (created, changed, removed, a new container).
	// It is injected so that this package does not depend on the worker;
	// wire it before the first Ensure. Nil: nobody is told.
	Notify func(Key)
	// NewWatcher builds the watcher of pod cgroups, used on non-hierarchical
	// backends (v1). Nil: inotify (NewInotifyWatcher).
	NewWatcher func(WatchHandler) (ChildWatcher, error)
	// AcceptUnheldV1 lets a v1 publish whose pod cgroup cannot be found go
	// ahead Degraded, with only the root-level entry, which holds buffered
	// writeback but not the pod's direct IO. Off (the default), such a
	// placement fails with ErrPodCgroupRequired: a volume is never
	// published unthrottled unless an operator said so. v2 is not affected:
	// its fallback on kubepods holds all IO.
	AcceptUnheldV1 bool
	// RescanEvery: on v1, one in this many of the worker's Reconcile passes
	// over a watched group lists the pod cgroup's children again (see
	// Reconcile). 0 means DefaultRescanEvery; 1 lists on every pass.
	RescanEvery int
}

// DefaultRescanEvery: with the default stats interval of 10 s, a container
// whose inotify event was lost without an overflow report gets its limits
// within a minute.
const DefaultRescanEvery = 6

// Table holds the throttle groups of this node. Its methods never wait on
// the stats worker, the apiserver or another group's IO (invariant 2).
//
// Locking, in order: a group's mu serializes the kernel writes of that
// group (Ensure, Update, Remove, the watcher's child placement, the
// worker's reconcile), so they never interleave while other groups go on;
// an entry's lock (see entries) serializes the writes of one shared kernel
// entry; the table's mu guards the map only and is never held across IO.
type Table struct {
	backend      Backend
	kubeletRoot  string
	podPrefix    string // podPrefix(backend, kubeletRoot), made once
	notify       func(Key)
	watcher      ChildWatcher // nil on hierarchical backends
	entries      *entries
	lastInc      atomic.Uint64
	rescanEvery  int
	repairs      atomic.Uint64 // entries the readback restored (Repairs)
	acceptUnheld bool

	mu     sync.RWMutex
	groups map[Key]*group
}

// NewTable returns an empty table; Close it to stop its watcher.
func NewTable(o Options) (*Table, error) {
	if o.Backend == nil {
		return nil, errors.New("throttle.NewTable: no Backend")
	}
	t := &Table{
		backend:      o.Backend,
		kubeletRoot:  o.KubeletCgroupRoot,
		podPrefix:    podPrefix(o.Backend, o.KubeletCgroupRoot),
		notify:       o.Notify,
		entries:      newEntries(o.Backend),
		groups:       map[Key]*group{},
		rescanEvery:  o.RescanEvery,
		acceptUnheld: o.AcceptUnheldV1,
	}
	if t.rescanEvery <= 0 {
		t.rescanEvery = DefaultRescanEvery
	}
	if t.notify == nil {
		t.notify = func(Key) {}
	}
	if !o.Backend.Hierarchical() {
		nw := o.NewWatcher
		if nw == nil {
			nw = NewInotifyWatcher
		}
		w, err := nw(watchHandler{t})
		if err != nil {
			return nil, err
		}
		t.watcher = w
	}
	return t, nil
}

// Close stops the watcher. Kernel entries stay: limits must outlive a
// plugin restart.
func (t *Table) Close() error {
	if t.watcher != nil {
		return t.watcher.Close()
	}
	return nil
}

// Backend returns the backend the table works on (Probe describes it).
func (t *Table) Backend() Backend { return t.backend }

// lookup is a map read; no IO.
func (t *Table) lookup(key Key) *group {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.groups[key]
}

// getOrCreate returns the key's group, creating an empty one (with a new
// incarnation) if there is none. A map operation only.
func (t *Table) getOrCreate(key Key) (*group, bool) {
	if g := t.lookup(key); g != nil {
		return g, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if g := t.groups[key]; g != nil {
		return g, false
	}
	g := newGroup(key, t.lastInc.Add(1))
	t.groups[key] = g
	return g, true
}

// forgetGroup deletes g from the map unless the key already names another
// incarnation.
func (t *Table) forgetGroup(g *group) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.groups[g.key] == g {
		delete(t.groups, g.key)
	}
}

// Get returns a copy of the group's status.
func (t *Table) Get(key Key) (GroupStatus, bool) {
	g := t.lookup(key)
	if g == nil {
		return GroupStatus{}, false
	}
	return g.status(t.backend), true
}

// Keys returns the keys of all groups, in no particular order.
func (t *Table) Keys() []Key {
	t.mu.RLock()
	defer t.mu.RUnlock()
	keys := make([]Key, 0, len(t.groups))
	for k := range t.groups {
		keys = append(keys, k)
	}
	return keys
}

// Len returns the number of groups.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.groups)
}

// group is one throttling unit and the kernel entries it owns.
type group struct {
	key Key
	inc uint64

	// mu serializes this group's kernel writes. The fields below it are
	// guarded by it; readers get the published snapshots instead.
	mu       sync.Mutex
	removed  bool
	placed   bool
	spec     Spec
	degraded bool
	pod      string // pod cgroup, "" if not found
	statsDir string
	watching string // pod cgroup watched for children (v1), "" if none
	held     entrySet
	message  string
	// lift, when set, is what the kernel holds instead of spec.Limits
	// (see SetLift).
	lift *Limits
	// sinceScan counts the Reconcile passes since the children of the
	// watched pod cgroup were last listed; mustScan has the next pass list
	// them (a container's placement failed, or inotify lost events).
	sinceScan int
	mustScan  bool
	// boost raises the kernel's limits above spec.Limits while a burst
	// has credit (see SetBoost).
	boost Limits

	place atomic.Pointer[placement]   // published under mu, read without it
	stats atomic.Pointer[Stats]       // installed by the worker
	conds atomic.Pointer[[]Condition] // set by the worker
	burst atomic.Pointer[BurstState]  // set by the burst controller

	readback atomic.Pointer[Readback] // the worker's last Readback
}

// placement is an immutable snapshot of a group's placement.
type placement struct {
	spec      Spec
	boost     Limits
	placed    bool
	degraded  bool
	pod       string
	statsDir  string
	cgroups   []string
	message   string
	semantics string
	lift      *Limits
}

func newGroup(key Key, inc uint64) *group {
	return &group{key: key, inc: inc}
}

// placement is what publish last stored. Before the first placement it is
// a "placing" one made here, on the rare read of a group that Ensure is
// still placing, rather than stored by newGroup, where the publish path
// would allocate it only to replace it a moment later.
func (g *group) placement() *placement {
	if p := g.place.Load(); p != nil {
		return p
	}
	return &placement{spec: Spec{Pod: PodRef{UID: g.key.PodUID}}, message: "placing"}
}

// publish stores a snapshot of the placement. Called with mu held.
func (g *group) publish(version int) {
	p := &placement{
		spec: g.spec, boost: g.boost, placed: g.placed, degraded: g.degraded, pod: g.pod, statsDir: g.statsDir,
		message: g.message, semantics: semantics(version, g.spec.Scope, g.degraded), lift: g.lift,
	}
	for _, id := range g.held {
		p.cgroups = append(p.cgroups, id.dir)
	}
	slices.Sort(p.cgroups)
	p.cgroups = slices.Compact(p.cgroups)
	g.place.Store(p)
}

func (g *group) status(b Backend) GroupStatus {
	p := g.placement()
	st := GroupStatus{
		Key: g.key, Spec: p.spec, Boost: p.boost, Burst: g.burst.Load(), Incarnation: g.inc,
		BackendVersion: b.Version(), Backend: b.Description(), Semantics: p.semantics,
		PodCgroup: p.pod, StatsCgroup: p.statsDir, Cgroups: slices.Clone(p.cgroups), Placement: p.message,
		Stats: Stats{Pending: true},
	}
	if p.lift != nil {
		st.Lifted, st.Lift = true, *p.lift
	}
	s := g.stats.Load()
	if s != nil {
		st.Stats = *s
	}
	if c := g.conds.Load(); c != nil {
		st.Conditions = slices.Clone(*c)
	}
	if rb := g.readback.Load(); rb != nil {
		st.Readback = *rb
		st.Readback.Repaired, st.Readback.Failed = slices.Clone(rb.Repaired), slices.Clone(rb.Failed)
	}
	st.Phase = phaseOf(p, s)
	return st
}

// phaseOf is the Phase of a group with placement p and stats s (nil: none
// yet). Ensure returns it without building the whole status.
func phaseOf(p *placement, s *Stats) Phase {
	switch {
	case p.degraded:
		return PhaseDegraded
	case s == nil || s.Pending || !p.placed:
		return PhasePending
	}
	return PhaseActive
}
