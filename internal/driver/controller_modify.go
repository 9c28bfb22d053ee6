package driver

import (
	"context"
	"errors"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// ModifyCarrier takes a limits change to the node that holds the volume and
// waits until that node's kernel holds it. It exists because the
// VolumeAttributesClass change comes from csi-resizer, which runs once per
// cluster and so calls the plugin of whatever node its leader runs on;
// internal/kube carries the change through the PersistentVolume. It returns
// nil only once the owning node applied the change; a retriable status
// (Unavailable) while it has not, NotFound when no node has the volume,
// InvalidArgument when the owning node refused the parameters.
type ModifyCarrier interface {
	CarryModify(ctx context.Context, volumeID string, mutable map[string]string) error
	// VolumeNode names the node that holds the volume (NotFound when no
	// PersistentVolume has it).
	VolumeNode(ctx context.Context, volumeID string) (string, error)
}

// ControllerModifyVolume implements csi.ControllerServer: a
// VolumeAttributesClass change of the volume's limits. Bad parameters are
// refused here with InvalidArgument, before anything moves, so the PVC shows
// Infeasible and the old limits stay. With a Carrier (a kubeconfig) the
// change travels through the API to the owning node, even when that is this
// node, so that one path applies every change and updates the volume's
// ThrottleGroups; without one (standalone) a volume of this node changes
// directly.
func (d *Driver) ControllerModifyVolume(ctx context.Context, req *csi.ControllerModifyVolumeRequest) (*csi.ControllerModifyVolumeResponse, error) {
	id, m := req.GetVolumeId(), req.GetMutableParameters()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_id is required")
	}
	if len(m) == 0 {
		return nil, status.Errorf(codes.InvalidArgument,
			"mutable_parameters are required: a VolumeAttributesClass of this driver sets one or more of %v", params.MutableKeys())
	}
	if _, err := params.ApplyMutable(m, params.Volume{}); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if !volume.ValidID(id) {
		return nil, status.Errorf(codes.NotFound, "volume_id %s is not a volume of this driver (IDs match %s)", quote(id), volume.IDPattern)
	}
	var err error
	if d.deps.Carrier != nil {
		err = d.deps.Carrier.CarryModify(ctx, id, m)
	} else {
		_, err = d.ModifyLimits(ctx, id, m)
	}
	if err != nil {
		return nil, err
	}
	return &csi.ControllerModifyVolumeResponse{}, nil
}

// ModifyLimits applies mutable parameters to a volume of this node: first
// the persisted record (new publishes, restarts and reboots use it), then
// every throttle group of the volume live, running pods included. The
// change replaces any ThrottleGroup edit of the volume's groups (the newest
// change wins). It returns the volume limits now in force. A failed kernel
// write leaves the record changed and returns Internal: the caller retries,
// and the record is what a restart would apply anyway.
func (d *Driver) ModifyLimits(ctx context.Context, id string, m map[string]string) (throttle.Limits, error) {
	r, release, err := d.open(id, nil)
	if err != nil {
		return throttle.Limits{}, err
	}
	defer release()
	p, err := params.ApplyMutable(m, r.Params)
	if err != nil {
		return throttle.Limits{}, status.Error(codes.InvalidArgument, err.Error())
	}
	logger := klog.FromContext(ctx).WithValues("volumeID", id)
	if r.SetVolumeLimits(p, volume.SourceVolumeAttributesClass) {
		if err := d.deps.Store.Put(r); err != nil {
			return throttle.Limits{}, failure(err, "write volume record")
		}
		logger.V(2).Info("Volume limits changed by a VolumeAttributesClass", "limits", p.Limits)
	}
	for _, key := range r.Groups() {
		err := d.deps.Throttler.Update(ctx, key, r.GroupLimits(key))
		if errors.Is(err, throttle.ErrGroupNotFound) {
			continue // not placed (yet): the next publish places it from the record
		}
		if err != nil {
			return throttle.Limits{}, status.Errorf(codes.Internal, "update throttle limits of %s: %v", key, err)
		}
		if pt, ok := d.deps.Throttler.(protectionSetter); ok {
			if err := pt.SetProtection(ctx, key, p.LatencyTarget, p.Elastic); err != nil {
				return throttle.Limits{}, status.Errorf(codes.Internal, "update latency protection of %s: %v", key, err)
			}
		}
		d.trackBurst(r, key) // new burst rates or bucket size reach the controller
	}
	return p.Baseline(r.CapacityBytes), nil
}

// protectionSetter is the part of the throttle table that changes a group's
// latencyTarget and elastic live. It is asked for, not required, so that
// the throttler fakes of the driver's tests need not implement it.
type protectionSetter interface {
	SetProtection(ctx context.Context, key throttle.Key, target time.Duration, elastic bool) error
}

// PlanModify returns the volume limits that ModifyLimits would put in
// force, changing nothing: the node's controller writes them into the
// volume's ThrottleGroups first (see internal/kube ModifyController).
func (d *Driver) PlanModify(ctx context.Context, id string, m map[string]string) (throttle.Limits, error) {
	if err := checkID(id); err != nil {
		return throttle.Limits{}, err
	}
	r, err := d.record(id)
	if err != nil {
		return throttle.Limits{}, err
	}
	p, err := params.ApplyMutable(m, r.Params)
	if err != nil {
		return throttle.Limits{}, status.Error(codes.InvalidArgument, err.Error())
	}
	return p.Baseline(r.CapacityBytes), nil
}

// LimitsSource says where the limits in force for group key came from; the
// ThrottleGroup status shows it. Unknown volumes read as "".
func (d *Driver) LimitsSource(key throttle.Key) volume.LimitsSource {
	r, err := d.deps.Store.Get(key.VolumeID)
	if err != nil {
		return ""
	}
	return r.GroupLimitsSource(key)
}
