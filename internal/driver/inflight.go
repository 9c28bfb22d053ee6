package driver

import "sync"

// inflight is the set of volume IDs with an operation running. A second
// operation on the same volume is answered with Aborted at once instead of
// queueing behind the first: the CO retries, and a stuck operation cannot
// pile up goroutines (kubelet and the provisioner retry with backoff).
type inflight struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func newInflight() *inflight { return &inflight{ids: map[string]struct{}{}} }

// acquire marks id busy; ok is false when it already was. Call release
// when done.
func (f *inflight) acquire(id string) (release func(), ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, busy := f.ids[id]; busy {
		return nil, false
	}
	f.ids[id] = struct{}{}
	return func() {
		f.mu.Lock()
		delete(f.ids, id)
		f.mu.Unlock()
	}, true
}
