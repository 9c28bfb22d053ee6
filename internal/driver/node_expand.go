package driver

import (
	"context"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// NodeExpandVolume implements csi.NodeServer: grow the backing file (if the
// controller has not yet), make the loop device see it (LOOP_SET_CAPACITY)
// and grow the filesystem online.
func (d *Driver) NodeExpandVolume(ctx context.Context, req *csi.NodeExpandVolumeRequest) (*csi.NodeExpandVolumeResponse, error) {
	id, path := req.GetVolumeId(), req.GetVolumePath()
	if err := checkIDAndVolumePath(id, path); err != nil {
		return nil, err
	}
	r, release, err := d.open(id, req.GetVolumeCapability())
	if err != nil {
		return nil, err
	}
	defer release()
	if err := volumePathOf(r, path); err != nil {
		return nil, err
	}
	if r.Staging == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s is not staged; stage it before expanding on the node", id)
	}
	size := r.CapacityBytes
	if req.GetCapacityRange() != nil {
		if size, err = d.grow(ctx, r, req.GetCapacityRange()); err != nil {
			return nil, err
		}
	}
	if err := d.deps.Loop.Refresh(r.Staging.Device); err != nil {
		return nil, failure(err, "refresh loop device capacity")
	}
	if r.AccessType == volume.AccessMount {
		if _, err := d.deps.Resizer.Resize(r.Staging.Device, r.Staging.Path); err != nil {
			hint := ""
			if strings.Contains(err.Error(), "Permission denied") {
				hint = " (growing a mounted ext4 filesystem needs CAP_SYS_RESOURCE: run the plugin privileged)"
			}
			return nil, status.Errorf(codes.Internal, "grow %s filesystem of volume %s: %v%s", r.Params.FsType, id, err, hint)
		}
	}
	if err := d.reapplyLimits(ctx, r); err != nil {
		return nil, err
	}
	klog.FromContext(ctx).V(2).Info("Volume expanded on the node", "bytes", size)
	return &csi.NodeExpandVolumeResponse{CapacityBytes: size}, nil
}
