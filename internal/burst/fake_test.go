package burst

import (
	"sync"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// fakeGroups is a throttle table with one group whose IO a simulated
// writer does: at every advance it writes as fast as the kernel's limit
// in force lets it (or at a fixed demand, if lower).
type fakeGroups struct {
	mu       sync.Mutex
	key      throttle.Key
	inc      uint64
	spec     throttle.Limits
	boost    throttle.Limits
	state    *throttle.BurstState
	counters throttle.Counters
	writes   int // kernel writes: boost changes
}

func newFakeGroups(spec throttle.Limits) *fakeGroups {
	return &fakeGroups{key: throttle.Key{VolumeID: "vol", PodUID: "pod"}, inc: 1, spec: spec}
}

func (f *fakeGroups) Get(k throttle.Key) (throttle.GroupStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k != f.key {
		return throttle.GroupStatus{}, false
	}
	return throttle.GroupStatus{Key: k, Incarnation: f.inc, Spec: throttle.Spec{Limits: f.spec}, Boost: f.boost, Burst: f.state}, true
}

func (f *fakeGroups) ReadCounters(k throttle.Key) (throttle.Counters, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counters, f.inc, nil
}

func (f *fakeGroups) SetBoost(k throttle.Key, inc uint64, boost throttle.Limits, st *throttle.BurstState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if boost != f.boost {
		f.writes++
	}
	f.boost, f.state = boost, st
	return nil
}

// write does dt of IO: demand bytes per second, held to the write limit
// in force (demand 0: as fast as allowed).
func (f *fakeGroups) write(dt time.Duration, demand float64) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	limit := float64(throttle.Raise(f.spec, f.boost).WriteBytesPerSecond)
	rate := limit
	if demand >= 0 && demand < limit {
		rate = demand
	}
	n := rate * dt.Seconds()
	f.counters.WriteBytes += uint64(n)
	return n
}

func (f *fakeGroups) bursting() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.boost.WriteBytesPerSecond != 0
}

func (f *fakeGroups) bucket(t *testing.T) throttle.Bucket {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == nil || len(f.state.Buckets) != 1 {
		t.Fatalf("burst state %+v, want one bucket", f.state)
	}
	return f.state.Buckets[0]
}
