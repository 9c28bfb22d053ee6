package driver

import (
	"context"
	"errors"
	"os"
	"reflect"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// publishInline serves a CSI ephemeral inline volume: create, stage (at the
// driver's own staging path in the state dir) and publish in one call,
// since the kubelet sends neither CreateVolume nor NodeStageVolume for it.
func (d *Driver) publishInline(ctx context.Context, req *csi.NodePublishVolumeRequest, pod throttle.PodRef) (*csi.NodePublishVolumeResponse, error) {
	id := req.GetVolumeId()
	access, fs, _ := checkCapability(req.GetVolumeCapability())
	if access != volume.AccessMount {
		return nil, status.Error(codes.InvalidArgument, "inline ephemeral volumes are filesystems; block access needs a PVC with volumeMode Block")
	}
	p, err := params.Parse(req.GetVolumeContext(), params.ModeInline)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if fs != "" {
		p.FsType = fs
	}
	size, err := capacityOf(&csi.CapacityRange{RequiredBytes: p.Size}, p.FsType == params.FsXFS)
	if err != nil {
		return nil, err
	}
	release, err := d.lock(id)
	if err != nil {
		return nil, err
	}
	defer release()

	r, err := d.deps.Store.Get(id)
	created := false
	switch {
	case errors.Is(err, volume.ErrNotFound):
		if err := d.checkRoom(size); err != nil {
			return nil, err
		}
		r = &volume.Record{ID: id, Name: id, CapacityBytes: size, Params: p, AccessType: volume.AccessMount, Ephemeral: true}
		if err := d.deps.Store.CreateBacking(id, size); err != nil {
			return nil, failure(err, "create backing file")
		}
		if err := d.deps.Store.Put(r); err != nil {
			_ = d.deps.Store.Delete(id)
			return nil, failure(err, "write volume record")
		}
		created = true
		klog.FromContext(ctx).V(2).Info("Inline volume created", "bytes", size, "limits", p.Limits, "pod", klog.KRef(pod.Namespace, pod.Name))
	case err != nil:
		return nil, failure(err, "read volume record")
	case !r.Ephemeral:
		return nil, status.Errorf(codes.AlreadyExists, "volume %s exists as a persistent volume, not an inline one", id)
	case !reflect.DeepEqual(r.Params, p) || r.CapacityBytes != size:
		return nil, status.Errorf(codes.AlreadyExists, "inline volume %s exists with other volumeAttributes; they cannot change while the pod runs", id)
	}

	staging := d.inlineStagingPath(id)
	st, err := d.stage(ctx, r, staging, req.GetVolumeCapability().GetMount().GetMountFlags())
	if err == nil {
		r.Staging = st
		if err = d.deps.Store.Put(r); err != nil {
			err = failure(err, "write volume record")
		}
	}
	if err == nil {
		err = d.publish(ctx, r, req, pod)
	}
	if err != nil {
		if created { // leave nothing half-made behind a first attempt
			if cerr := d.deleteInline(ctx, r); cerr != nil {
				klog.FromContext(ctx).Error(cerr, "Clean up inline volume after failed publish")
			}
		}
		return nil, err
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

// deleteInline unstages an inline volume and deletes its file and record.
func (d *Driver) deleteInline(ctx context.Context, r *volume.Record) error {
	staging := d.inlineStagingPath(r.ID)
	if err := d.unstage(r, staging); err != nil {
		return err
	}
	if err := os.Remove(staging); err != nil && !errors.Is(err, os.ErrNotExist) {
		return failure(err, "remove inline staging path")
	}
	if err := d.deps.Store.Delete(r.ID); err != nil {
		return failure(err, "delete inline volume")
	}
	klog.FromContext(ctx).V(2).Info("Inline volume deleted")
	return nil
}
