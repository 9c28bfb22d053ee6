package kube

import (
	"sync"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// SpecStates hands the live-limits controller's conclusions (generation
// acted on, refusal) to the sink, which writes them into the status. The
// controller never writes status itself, so that one writer owns it and two
// patches can never race.
type SpecStates struct {
	mu sync.Mutex
	m  map[throttle.Key]SpecState
}

// NewSpecStates returns an empty set.
func NewSpecStates() *SpecStates { return &SpecStates{m: map[throttle.Key]SpecState{}} }

// Get returns key's state (zero if none).
func (s *SpecStates) Get(key throttle.Key) SpecState {
	if s == nil {
		return SpecState{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}

// Set records key's state and reports whether it changed.
func (s *SpecStates) Set(key throttle.Key, st SpecState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[key] == st {
		return false
	}
	s.m[key] = st
	return true
}

// Delete drops key's state (its object is gone).
func (s *SpecStates) Delete(key throttle.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}
