package driver

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// Pod information the kubelet adds to volume_context with podInfoOnMount.
const (
	ctxPodUID       = "csi.storage.k8s.io/pod.uid"
	ctxPodName      = "csi.storage.k8s.io/pod.name"
	ctxPodNamespace = "csi.storage.k8s.io/pod.namespace"
	ctxEphemeral    = "csi.storage.k8s.io/ephemeral"
)

func podRef(vc map[string]string) (throttle.PodRef, error) {
	p := throttle.PodRef{UID: vc[ctxPodUID], Name: vc[ctxPodName], Namespace: vc[ctxPodNamespace]}
	if p.UID != "" && !throttle.ValidPodUID(p.UID) {
		return throttle.PodRef{}, status.Errorf(codes.InvalidArgument, "%s %s is not a pod UID", ctxPodUID, quote(p.UID))
	}
	// The pod's name and namespace go into Events and ThrottleGroup objects.
	if err := checkName(ctxPodName, p.Name); err != nil {
		return throttle.PodRef{}, err
	}
	if err := checkName(ctxPodNamespace, p.Namespace); err != nil {
		return throttle.PodRef{}, err
	}
	return p, nil
}

// NodePublishVolume implements csi.NodeServer: bind-mount the staged volume
// (or the device node, for block) onto the target, then have the throttle
// core place the limits. It returns only once the limits are in the kernel:
// a volume is never published unthrottled (docs/architecture.md, invariant 3).
func (d *Driver) NodePublishVolume(ctx context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if err := checkIDAndPath(id, "target_path", target); err != nil {
		return nil, err
	}
	if _, _, err := checkCapability(req.GetVolumeCapability()); err != nil {
		return nil, err
	}
	pod, err := podRef(req.GetVolumeContext())
	if err != nil {
		return nil, err
	}
	if req.GetVolumeContext()[ctxEphemeral] == "true" {
		return d.publishInline(ctx, req, pod)
	}
	staging := req.GetStagingTargetPath()
	if err := checkPath("staging_target_path", staging); err != nil {
		return nil, err
	}
	r, release, err := d.open(id, req.GetVolumeCapability())
	if err != nil {
		return nil, err
	}
	defer release()
	if r.Staging == nil || r.Staging.Path != staging {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s is not staged at %s; call NodeStageVolume first", id, staging)
	}
	if err := d.publish(ctx, r, req, pod); err != nil {
		return nil, err
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

// publish does the part of NodePublishVolume shared by persistent and inline
// volumes. The caller holds the volume's lock and r is staged.
func (d *Driver) publish(ctx context.Context, r *volume.Record, req *csi.NodePublishVolumeRequest, pod throttle.PodRef) error {
	target := req.GetTargetPath()
	mode := req.GetVolumeCapability().GetAccessMode().GetMode()
	pub := volume.Publication{
		TargetPath:   target,
		Pod:          pod,
		ReadOnly:     req.GetReadonly() || mode == csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY,
		SingleWriter: mode == csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER,
		// A live limit edit of the group (UpdateLimits) outlives re-publishes.
		Limits: r.GroupOverride(r.Group(volume.Publication{Pod: pod})),
	}
	if old, ok := r.Publications[target]; ok && !old.Same(pub) {
		return status.Errorf(codes.AlreadyExists,
			"volume %s is already published at %s with other options (read-only %t, pod %q); unpublish it first", r.ID, target, old.ReadOnly, old.Pod.UID)
	}
	for t, p := range r.Publications {
		if t != target && (p.SingleWriter || pub.SingleWriter) {
			return status.Errorf(codes.FailedPrecondition,
				"volume %s is published at %s and its access mode SINGLE_NODE_SINGLE_WRITER (ReadWriteOncePod) allows one publication", r.ID, t)
		}
	}
	// Record the publication before acting: NodeUnpublishVolume learns the
	// pod (the group key) only from the record, so after a crash between the
	// mount and the write below the group could otherwise never be removed.
	if r.Publications == nil {
		r.Publications = map[string]volume.Publication{}
	}
	r.Publications[target] = pub
	if err := d.deps.Store.Put(r); err != nil {
		return failure(err, "write volume record")
	}
	if err := d.publishSteps(ctx, r, pub, req.GetVolumeCapability().GetMount().GetMountFlags()); err != nil {
		d.rollbackPublish(ctx, r, pub)
		return err
	}
	klog.FromContext(ctx).V(2).Info("Volume published", "target", target, "pod", klog.KRef(pod.Namespace, pod.Name), "podUID", pod.UID,
		"readOnly", pub.ReadOnly, "limits", r.GroupLimits(r.Group(pub)), "scope", r.Params.Scope)
	return nil
}

func (d *Driver) publishSteps(ctx context.Context, r *volume.Record, pub volume.Publication, mountFlags []string) error {
	if err := d.bind(r, pub, mountFlags); err != nil {
		return err
	}
	dev, err := throttle.DeviceOf(r.Staging.Device)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "loop device of volume %s: %v; unstage and stage the volume again", r.ID, err)
	}
	phase, err := d.deps.Throttler.Ensure(ctx, r.Group(pub), throttle.Spec{
		Device: dev, Limits: r.GroupLimits(r.Group(pub)), Scope: r.Params.Scope, Pod: pub.Pod,
		LatencyTarget: r.Params.LatencyTarget, Elastic: r.Params.Elastic,
	})
	if errors.Is(err, throttle.ErrInvalidSpec) {
		return status.Errorf(codes.InvalidArgument, "throttle limits for volume %s: %v", r.ID, err)
	}
	if err != nil {
		return placeError(r.ID, err)
	}
	d.trackBurst(r, r.Group(pub))
	klog.FromContext(ctx).V(4).Info("Throttle group ensured", "group", r.Group(pub), "device", dev, "phase", phase)
	return nil
}

// bind mounts the staged filesystem (or the loop device node) at the target.
func (d *Driver) bind(r *volume.Record, pub volume.Publication, mountFlags []string) error {
	target := pub.TargetPath
	source := r.Staging.Path
	if r.AccessType == volume.AccessBlock {
		source = r.Staging.Device
		if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
			return failure(err, "create target parent")
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o640)
		if err != nil {
			return failure(err, "create target file")
		}
		f.Close()
	} else if err := os.MkdirAll(target, 0o750); err != nil {
		return failure(err, "create target path")
	}
	if mounted, err := d.mounted(target, "target path"); err != nil || mounted {
		return err // mounted: by an earlier attempt
	}
	opts := append([]string{"bind"}, mountFlags...)
	if pub.ReadOnly {
		opts = append(opts, "ro")
	}
	if err := d.deps.Mounter.Mount(source, target, "", opts); err != nil {
		return status.Errorf(codes.Internal, "bind mount %s at %s: %v", source, target, err)
	}
	return nil
}

// rollbackPublish undoes a failed publish as far as it got, best effort:
// the caller already returns the original error.
func (d *Driver) rollbackPublish(ctx context.Context, r *volume.Record, pub volume.Publication) {
	logger := klog.FromContext(ctx)
	if !r.SharesGroup(pub.TargetPath, r.Group(pub)) {
		if err := d.deps.Throttler.Remove(ctx, r.Group(pub)); err != nil {
			logger.Error(err, "Remove throttle group after failed publish")
		} else {
			d.forgetBurst(r.Group(pub))
		}
	}
	if err := d.unmount(pub.TargetPath, true); err != nil {
		logger.Error(err, "Unmount after failed publish", "target", pub.TargetPath)
	}
	delete(r.Publications, pub.TargetPath)
	if err := d.deps.Store.Put(r); err != nil {
		logger.Error(err, "Write volume record after failed publish")
	}
}

// NodeUnpublishVolume implements csi.NodeServer: remove the throttle group,
// then unmount and remove the target. An inline volume's last unpublish
// also unstages and deletes it.
func (d *Driver) NodeUnpublishVolume(ctx context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if err := checkIDAndPath(id, "target_path", target); err != nil {
		return nil, err
	}
	r, release, err := d.open(id, nil)
	if status.Code(err) == codes.NotFound {
		// An inline volume is deleted by its last unpublish; a retry of that
		// call finds no record and nothing at the target, which is success.
		if _, serr := os.Lstat(target); os.IsNotExist(serr) {
			return &csi.NodeUnpublishVolumeResponse{}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	defer release()
	if pub, ok := r.Publications[target]; ok && !r.SharesGroup(target, r.Group(pub)) {
		if err := d.deps.Throttler.Remove(ctx, r.Group(pub)); err != nil {
			return nil, status.Errorf(codes.Internal, "remove throttle group %s: %v", r.Group(pub), err)
		}
		d.forgetBurst(r.Group(pub))
	}
	if err := d.unmount(target, true); err != nil {
		return nil, err
	}
	delete(r.Publications, target)
	if r.Ephemeral && len(r.Publications) == 0 {
		if err := d.deleteInline(ctx, r); err != nil {
			return nil, err
		}
		return &csi.NodeUnpublishVolumeResponse{}, nil
	}
	if err := d.deps.Store.Put(r); err != nil {
		return nil, failure(err, "write volume record")
	}
	klog.FromContext(ctx).V(2).Info("Volume unpublished", "target", target)
	return &csi.NodeUnpublishVolumeResponse{}, nil
}
