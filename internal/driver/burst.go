package driver

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/burst"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// BurstTracker is the part of the burst controller (*burst.Controller) the
// driver uses: which groups have a burst. Both calls are map operations, so
// the publish path may make them; the controller does the kernel writes on
// its own goroutine.
type BurstTracker interface {
	Track(key throttle.Key, cfg burst.Config)
	Forget(key throttle.Key)
}

// trackBurst tells the burst controller about a placed group (a config
// without a burst makes it forget the group). The baseline the bucket
// pays out above is the group's limits in the table, so it is not passed.
func (d *Driver) trackBurst(r *volume.Record, key throttle.Key) {
	if d.deps.Burst == nil {
		return
	}
	d.deps.Burst.Track(key, burst.Config{Rates: r.Params.Burst.Rates, Seconds: r.Params.Burst.Seconds})
}

// forgetBurst drops a removed group's bucket.
func (d *Driver) forgetBurst(key throttle.Key) {
	if d.deps.Burst != nil {
		d.deps.Burst.Forget(key)
	}
}

// reapplyLimits gives every placed group of r its baseline again: after an
// expansion the per-GiB limits are computed for the new capacity. A group
// with a live edit keeps it (GroupLimits returns the edit). It is also
// called when the expansion had already been done, so that a retried
// expansion whose limit write failed the first time converges.
func (d *Driver) reapplyLimits(ctx context.Context, r *volume.Record) error {
	for _, key := range r.Groups() {
		l := r.GroupLimits(key)
		err := d.deps.Throttler.Update(ctx, key, l)
		if errors.Is(err, throttle.ErrGroupNotFound) {
			continue // not placed on this node (yet): its publish computes the limits
		}
		if err != nil {
			return status.Errorf(codes.Internal, "apply the limits of volume %s for its new capacity (%d bytes) to %s: %v; retry the expansion",
				r.ID, r.CapacityBytes, key, err)
		}
		klog.FromContext(ctx).V(2).Info("Limits recomputed for the volume's capacity", "group", key, "bytes", r.CapacityBytes, "limits", l)
	}
	return nil
}
