// Package statsworker fills the throttle groups' stats and publishes them,
// off the publish path: a controller-style work queue keyed by group, the
// way kubelet's slow work is deferred, and the way the kernel's blk-cgroup
// fix deferred its stats (docs/architecture.md, "Why the publish path never
// waits").
package statsworker

import (
	"context"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Sink receives every installed snapshot (metrics, Kubernetes objects).
// Sinks run on the worker's goroutines, never on the publish path; an error
// makes the worker retry the key with backoff. Observe should honour ctx.
type Sink interface {
	Observe(ctx context.Context, st throttle.GroupStatus) error
	// Forget: the group is gone; drop what is kept for it.
	Forget(key throttle.Key)
}

// Groups is what the worker needs of the throttle table (*throttle.Table).
type Groups interface {
	Get(throttle.Key) (throttle.GroupStatus, bool)
	Keys() []throttle.Key
	Reconcile(context.Context, throttle.Key) error
	Readback(throttle.Key) (throttle.Readback, error)
	ReadCounters(throttle.Key) (throttle.Counters, uint64, error)
	InstallStats(key throttle.Key, incarnation uint64, s throttle.Stats) bool
	SetCondition(key throttle.Key, incarnation uint64, c throttle.Condition, set bool) bool
}

var _ Groups = (*throttle.Table)(nil)
