package driver

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/mounter"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// NodeStageVolume implements csi.NodeServer: attach the backing file as a
// loop device with direct IO and, for a mount volume, format it if it is
// blank and mount it at the staging path.
func (d *Driver) NodeStageVolume(ctx context.Context, req *csi.NodeStageVolumeRequest) (*csi.NodeStageVolumeResponse, error) {
	id, staging := req.GetVolumeId(), req.GetStagingTargetPath()
	if err := checkIDAndPath(id, "staging_target_path", staging); err != nil {
		return nil, err
	}
	if _, _, err := checkCapability(req.GetVolumeCapability()); err != nil {
		return nil, err
	}
	r, release, err := d.open(id, req.GetVolumeCapability())
	if err != nil {
		return nil, err
	}
	defer release()
	if r.Ephemeral {
		return nil, status.Errorf(codes.InvalidArgument, "volume %s is an inline ephemeral volume; it is staged by NodePublishVolume", id)
	}
	if r.Staging != nil && r.Staging.Path != staging {
		return nil, status.Errorf(codes.FailedPrecondition,
			"volume %s is already staged at %s; unstage it there before staging it at %s", id, r.Staging.Path, staging)
	}
	// Also when the record says staged: after a node reboot the record
	// survives but the loop device and the mount do not, and the kubelet's
	// repeated NodeStageVolume must bring them back. stage is idempotent.
	wasStaged := r.Staging != nil
	st, err := d.stage(ctx, r, staging, req.GetVolumeCapability().GetMount().GetMountFlags())
	if err != nil {
		return nil, err
	}
	r.Staging = st
	if err := d.deps.Store.Put(r); err != nil {
		if !wasStaged {
			// Leave no device or mount the record does not know: the kubelet
			// saw the stage fail and may never unstage it.
			if uerr := d.unstage(r, staging); uerr != nil {
				klog.FromContext(ctx).Error(uerr, "Undo stage after the record write failed")
			}
		}
		return nil, failure(err, "write volume record")
	}
	klog.FromContext(ctx).V(2).Info("Volume staged", "device", st.Device, "directIO", st.DirectIO, "stagingPath", staging)
	return &csi.NodeStageVolumeResponse{}, nil
}

// stage attaches r's backing file (or finds the device a previous attempt
// attached) and mounts a mount volume at path. On failure it detaches a
// device it attached itself.
func (d *Driver) stage(ctx context.Context, r *volume.Record, path string, mountFlags []string) (*volume.Staging, error) {
	img, err := d.deps.Store.BackingPath(r.ID)
	if err != nil {
		return nil, failure(err, "backing file")
	}
	if _, err := os.Stat(img); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "backing file of volume %s is missing (%v); the volume's data is gone, delete and recreate it", r.ID, err)
	}
	dev, found, err := d.deps.Loop.Find(img)
	if err != nil {
		return nil, failure(err, "look up loop device")
	}
	if !found {
		if dev, err = d.deps.Loop.Attach(img); err != nil {
			return nil, failure(err, "attach loop device")
		}
	}
	st := &volume.Staging{Path: path, Device: dev.Path, DirectIO: dev.DirectIO}
	if r.AccessType == volume.AccessBlock {
		return st, nil
	}
	if err := d.mountStaging(r, img, dev.Path, path, mountFlags); err != nil {
		if !found {
			if derr := d.deps.Loop.Detach(dev.Path); derr != nil {
				klog.FromContext(ctx).Error(derr, "Detach after failed stage", "device", dev.Path)
			}
		}
		return nil, err
	}
	return st, nil
}

func (d *Driver) mountStaging(r *volume.Record, img, dev, path string, mountFlags []string) error {
	if err := os.MkdirAll(path, 0o750); err != nil {
		return failure(err, "create staging path")
	}
	if mounted, err := d.mounted(path, "staging path"); err != nil || mounted {
		return err // mounted: by an earlier attempt
	}
	// Formats only a device without a filesystem, so a re-stage after a
	// reboot mounts the user's data instead of wiping it.
	return d.formatAndMount(r, img, dev, path, mountFlags)
}

// NodeUnstageVolume implements csi.NodeServer: unmount the staging path and
// detach the loop device.
func (d *Driver) NodeUnstageVolume(ctx context.Context, req *csi.NodeUnstageVolumeRequest) (*csi.NodeUnstageVolumeResponse, error) {
	id, staging := req.GetVolumeId(), req.GetStagingTargetPath()
	if err := checkIDAndPath(id, "staging_target_path", staging); err != nil {
		return nil, err
	}
	r, release, err := d.open(id, nil)
	if err != nil {
		return nil, err
	}
	defer release()
	if r.Staging != nil && r.Staging.Path != staging {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s is staged at %s, not at %s", id, r.Staging.Path, staging)
	}
	if n := len(r.Publications); n > 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s is still published at %d target path(s); unpublish it first", id, n)
	}
	if err := d.unstage(r, staging); err != nil {
		return nil, err
	}
	r.Staging = nil
	if err := d.deps.Store.Put(r); err != nil {
		return nil, failure(err, "write volume record")
	}
	klog.FromContext(ctx).V(2).Info("Volume unstaged", "stagingPath", staging)
	return &csi.NodeUnstageVolumeResponse{}, nil
}

// unstage unmounts path (when mounted) and detaches the device backed by
// r's file. It finds the device by its backing file rather than trusting
// the record: after a reboot the recorded number may belong to another file.
func (d *Driver) unstage(r *volume.Record, path string) error {
	if err := d.unmount(path, false); err != nil {
		return err
	}
	img, err := d.deps.Store.BackingPath(r.ID)
	if err != nil {
		return failure(err, "backing file")
	}
	dev, found, err := d.deps.Loop.Find(img)
	if err != nil {
		return failure(err, "look up loop device")
	}
	if found {
		if err := d.deps.Loop.Detach(dev.Path); err != nil {
			return failure(err, "detach loop device")
		}
	}
	return nil
}

// mounted reports whether path is a mount point: a repeated stage or
// publish finds there what an earlier attempt mounted, and is done. what
// names the path in an error.
func (d *Driver) mounted(path, what string) (bool, error) {
	notMnt, err := d.deps.Mounter.IsLikelyNotMountPoint(path)
	if err != nil {
		return false, failure(err, "check "+what)
	}
	return !notMnt, nil
}

// unmount unmounts path if it is a mount point; remove also deletes the
// file or directory (the CSI spec has NodeUnpublishVolume remove its target).
func (d *Driver) unmount(path string, remove bool) error {
	// Loop because mounts can be stacked; the bound stops a mount table
	// that never changes from spinning forever.
	for i := 0; ; i++ {
		if i == 16 {
			return status.Errorf(codes.Internal, "%s is still a mount point after %d unmounts", path, i)
		}
		notMnt, err := d.deps.Mounter.IsLikelyNotMountPoint(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return failure(err, "check mount point "+path)
		}
		if notMnt {
			break
		}
		if err := d.deps.Mounter.Unmount(path); err != nil {
			if errors.Is(err, syscall.EBUSY) {
				return d.busy(path)
			}
			return failure(err, "unmount "+path)
		}
	}
	if remove {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return failure(err, "remove "+path)
		}
	}
	return nil
}

// busy answers an unmount of path that the kernel refused with EBUSY. The
// kubelet retries a FailedPrecondition; nothing has changed, so the retry
// succeeds once what holds the filesystem is gone. The kernel does not say
// what that is, and an operator reading the event needs to know which of
// its two causes to look for: another filesystem mounted below path (named
// from the mount table), or else a process with a file or its working
// directory there.
func (d *Driver) busy(path string) error {
	if below := d.mountsBelow(path); len(below) > 0 {
		return status.Errorf(codes.FailedPrecondition,
			"%s is in use: %s is mounted below it; unmount that, then retry", path, strings.Join(below, ", "))
	}
	return status.Errorf(codes.FailedPrecondition,
		"%s is in use: a process has a file open or its working directory below it; stop that process, then retry", path)
}

// mountsBelow lists the mount points strictly below dir. An unreadable
// mount table lists none: the answer then names the other cause.
func (d *Driver) mountsBelow(dir string) []string {
	mps, err := d.deps.Mounter.List()
	if err != nil {
		return nil
	}
	below := mounter.Below(mps, dir)
	slices.Sort(below)
	return slices.Compact(below) // each path once in the message
}
