package kube

import (
	"math"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// BudgetOptions size a node's apiserver write budget.
type BudgetOptions struct {
	// PerSecond is the steady-state writes per second the node may make
	// (DefaultBudgetPerSecond); Burst how many may go at once after a quiet
	// spell (DefaultBudgetBurst).
	PerSecond float64
	Burst     int
	Clock     clock.PassiveClock
	// OnDefer, if set, is told of every write the budget held back, by kind
	// ("create", "status", "event"), e.g. for a counter.
	OnDefer func(kind string)
}

// The defaults keep a 5,000-node fleet under 1,000 writes/s at steady
// state whatever its workload: 5,000 x 0.15/s = 750/s, leaving room for
// the kubelets' and controllers' own writes about the same pods. The burst
// lets a node starting many pods at once show their first status and
// Events within seconds. Over an hour a node makes at most 540 + 20 writes,
// however many groups it has and however their rates move; a group's
// numbers are then refreshed less often than the coalescing interval
// (Prometheus has them every scrape), while phase and condition changes
// keep going out first.
const (
	DefaultBudgetPerSecond = 0.15
	DefaultBudgetBurst     = 20
)

// Priority orders writes when the budget runs short.
type Priority int

const (
	// PriorityNumbers: new rates and totals, Normal Events. They may take
	// only the tokens above half the burst.
	PriorityNumbers Priority = iota
	// PriorityNew: a new object and its first status. They may take the
	// tokens above a quarter of the burst, so that on a node starting
	// hundreds of pods the changes of existing groups still get through.
	PriorityNew
	// PriorityChange: a phase, condition, limits or placement change of an
	// existing object, and Warning Events: what users must see at once. They
	// may take every token.
	PriorityChange
)

// WriteBudget is one node's token bucket for apiserver writes: ThrottleGroup
// creates and status patches and the Events the plugin records. Writes of a
// higher Priority may dig deeper into the bucket (see Priority), so a node
// whose groups all move their numbers at once, or that starts hundreds of
// pods, still has tokens for the change users must see. Fairness across
// groups comes from the stats worker's order: every group is synced once per
// interval in the table's (randomized) key order, so no group's numbers
// wait behind another's for good. A nil budget allows all.
type WriteBudget struct {
	o BudgetOptions

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// NewWriteBudget returns a full bucket.
func NewWriteBudget(o BudgetOptions) *WriteBudget {
	if o.PerSecond <= 0 {
		o.PerSecond = DefaultBudgetPerSecond
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBudgetBurst
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.OnDefer == nil {
		o.OnDefer = func(string) {}
	}
	return &WriteBudget{o: o, tokens: float64(o.Burst), last: o.Clock.Now()}
}

// PerSecond and Burst are the budget's size (for the metrics).
func (b *WriteBudget) PerSecond() float64 { return b.o.PerSecond }
func (b *WriteBudget) Burst() int         { return b.o.Burst }

// floor is what a write of priority p must leave in the bucket.
func (b *WriteBudget) floor(p Priority) float64 {
	switch p {
	case PriorityNumbers:
		return float64(b.o.Burst) / 2
	case PriorityNew:
		return float64(b.o.Burst) / 4
	}
	return 0
}

// Take spends a token on one write of kind if the budget allows it at
// priority p; if not, the write is counted as deferred and wait says when
// it would be allowed.
func (b *WriteBudget) Take(kind string, p Priority) (ok bool, wait time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.o.Clock.Now()
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = math.Min(float64(b.o.Burst), b.tokens+dt*b.o.PerSecond)
	}
	b.last = now
	// The epsilon forgives the rounding of the refill: a caller that waited
	// exactly the wait it was told finds its token.
	const epsilon = 1e-9
	floor := b.floor(p)
	if b.tokens-1 >= floor-epsilon {
		b.tokens = math.Max(0, b.tokens-1)
		return true, 0
	}
	b.o.OnDefer(kind)
	need := floor + 1 - b.tokens
	return false, time.Duration(math.Ceil(need / b.o.PerSecond * float64(time.Second)))
}
