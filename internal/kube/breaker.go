package kube

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/utils/clock"
)

// breaker keeps an unreachable or hung apiserver from holding the stats
// worker. The worker does more than feed this sink: it places v1 limits on
// containers the watcher missed and retries degraded placements, and its
// snapshots feed /metrics and NodeGetVolumeStats. A hung apiserver would
// otherwise cost every group's sync a full request timeout (10 s), so with
// a few workers a node's whole sweep would crawl.
//
// After a request fails because the apiserver is not there (refused, reset,
// timed out, overloaded), the sink skips the apiserver for a backoff that
// doubles from minBackoff to maxBackoff; then one probe goes through (others
// keep skipping while it runs), and its outcome closes or re-opens the
// breaker. Skipped groups lose nothing: the sink keeps what it last wrote
// and writes the latest status at the first sync after the apiserver is
// back. Other errors (forbidden, invalid) do not open it: they are about
// one object, not the apiserver.
type breaker struct {
	clock clock.PassiveClock
	min   time.Duration
	max   time.Duration

	mu        sync.Mutex
	backoff   time.Duration // current open period; 0 while closed
	openUntil time.Time
	probing   bool
}

func newBreaker(c clock.PassiveClock, min, max time.Duration) *breaker {
	return &breaker{clock: c, min: min, max: max}
}

// allow reports whether a call may go to the apiserver now. A true answer
// while the breaker is open is the probe: its caller must call done.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.backoff == 0:
		return true
	case b.probing || b.clock.Now().Before(b.openUntil):
		return false
	}
	b.probing = true
	return true
}

// done records the outcome of an allowed call and reports whether the
// breaker opened or closed because of it.
func (b *breaker) done(err error) (opened, closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if !unavailable(err) {
		closed = b.backoff != 0
		b.backoff = 0
		return false, closed
	}
	switch {
	case b.backoff == 0:
		b.backoff = b.min
		opened = true
	case b.backoff < b.max:
		b.backoff = min(2*b.backoff, b.max)
	}
	b.openUntil = b.clock.Now().Add(b.backoff)
	return opened, false
}

// release returns a probe that made no request (nothing was due): the
// next call probes instead.
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// unavailable reports whether err says the apiserver is not there, as
// opposed to refusing one request.
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout() ||
		utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) ||
		apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err)
}
