package driver

import (
	"context"
	"fmt"
	"os"

	"github.com/container-storage-interface/spec/lib/go/csi"

	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// Reasons of the health entries NodeGetVolumeHealth reports (CamelCase, as
// the CSI spec asks, for machines and for `kubectl describe`).
const (
	reasonBackingFileMissing = "BackingFileMissing"
	reasonLoopDeviceGone     = "LoopDeviceGone"
	reasonLoopDeviceRebound  = "LoopDeviceRebound"
	reasonLimitsNotInKernel  = "LimitsNotInKernel"
)

// NodeGetVolumeHealth implements csi.NodeServer (the CSI 1.13 successor of
// VolumeCondition): abnormal when the backing file is gone, the loop device
// is gone or bound to another file, or the throttle limits are not in the
// kernel. An empty list means healthy.
func (d *Driver) NodeGetVolumeHealth(ctx context.Context, req *csi.NodeGetVolumeHealthRequest) (*csi.NodeGetVolumeHealthResponse, error) {
	id := req.GetVolumeId()
	if err := checkID(id); err != nil {
		return nil, err
	}
	r, err := d.record(id)
	if err != nil {
		return nil, err
	}
	return &csi.NodeGetVolumeHealthResponse{VolumeHealth: &csi.VolumeHealth{
		VolumeId: id, HealthStatuses: d.health(r),
	}}, nil
}

func entry(t csi.VolumeHealthErrorType, reason, msg string) *csi.VolumeHealth_VolumeHealthEntry {
	return &csi.VolumeHealth_VolumeHealthEntry{Status: t, Reason: reason, Message: msg}
}

func (d *Driver) health(r *volume.Record) []*csi.VolumeHealth_VolumeHealthEntry {
	img, err := d.deps.Store.BackingPath(r.ID)
	if err != nil {
		return []*csi.VolumeHealth_VolumeHealthEntry{entry(csi.VolumeHealthErrorType_INACCESSIBLE, reasonBackingFileMissing, err.Error())}
	}
	var out []*csi.VolumeHealth_VolumeHealthEntry
	if _, err := os.Stat(img); err != nil {
		out = append(out, entry(csi.VolumeHealthErrorType_DATA_LOSS, reasonBackingFileMissing,
			fmt.Sprintf("backing file %s is missing: %v", img, err)))
	}
	if r.Staging == nil {
		return out
	}
	file, err := d.deps.Loop.BackingFile(r.Staging.Device)
	switch {
	case err != nil:
		out = append(out, entry(csi.VolumeHealthErrorType_INACCESSIBLE, reasonLoopDeviceGone,
			fmt.Sprintf("loop device %s is gone (%v); the kubelet's next NodeStageVolume re-attaches it", r.Staging.Device, err)))
	case file != img:
		out = append(out, entry(csi.VolumeHealthErrorType_INACCESSIBLE, reasonLoopDeviceRebound,
			fmt.Sprintf("loop device %s is bound to %s, not to the volume's file %s", r.Staging.Device, file, img)))
	}
	for _, msg := range d.throttleProblems(r) {
		out = append(out, entry(csi.VolumeHealthErrorType_DEGRADED, reasonLimitsNotInKernel, msg))
	}
	return out
}
