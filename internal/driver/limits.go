package driver

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// UpdateLimits changes the limits of the throttle group key live: the live
// edit of a ThrottleGroup's spec.limits (internal/kube validates it with
// internal/params first). The override is persisted on every publication of the
// group before the kernel changes, so that a re-publish or a restarted
// plugin keeps it; a failed kernel write is retried by the caller, which
// compares the table with the spec. It takes the volume's in-flight lock
// like an RPC: Aborted while a CSI call works on the volume, NotFound when
// no publication of the volume has this group.
func (d *Driver) UpdateLimits(ctx context.Context, key throttle.Key, l throttle.Limits) error {
	r, release, err := d.open(key.VolumeID, nil)
	if err != nil {
		return err
	}
	defer release()
	found := false
	for t, p := range r.Publications {
		if r.Group(p) == key {
			p.Limits = &l
			r.Publications[t] = p
			found = true
		}
	}
	if !found {
		return status.Errorf(codes.NotFound, "volume %s is not published for pod %q on node %s", key.VolumeID, key.PodUID, d.cfg.NodeID)
	}
	if err := d.deps.Store.Put(r); err != nil {
		return failure(err, "write volume record")
	}
	if err := d.deps.Throttler.Update(ctx, key, l); err != nil {
		if errors.Is(err, throttle.ErrGroupNotFound) {
			// Published but not placed (a crash between record and Ensure):
			// the next publish places it with the persisted override.
			return status.Errorf(codes.FailedPrecondition, "throttle group %s is not placed: %v", key, err)
		}
		return status.Errorf(codes.Internal, "update throttle limits of %s: %v", key, err)
	}
	klog.FromContext(ctx).V(2).Info("Throttle limits changed live", "group", key, "limits", l)
	return nil
}
