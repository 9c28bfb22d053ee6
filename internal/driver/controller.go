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

// ControllerGetCapabilities implements csi.ControllerServer.
func (d *Driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, c := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_EXPAND_VOLUME,
		csi.ControllerServiceCapability_RPC_LIST_VOLUMES,
		csi.ControllerServiceCapability_RPC_GET_CAPACITY,
		csi.ControllerServiceCapability_RPC_MODIFY_VOLUME,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{
			Rpc: &csi.ControllerServiceCapability_RPC{Type: c}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

// ValidateVolumeCapabilities implements csi.ControllerServer: confirmed only
// when every capability fits the volume.
func (d *Driver) ValidateVolumeCapabilities(ctx context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	id := req.GetVolumeId()
	if err := checkID(id); err != nil {
		return nil, err
	}
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "volume_capabilities are required")
	}
	r, err := d.record(id)
	if err != nil {
		return nil, err
	}
	for _, c := range req.GetVolumeCapabilities() {
		if err := matchVolume(r, c); err != nil {
			return &csi.ValidateVolumeCapabilitiesResponse{Message: status.Convert(err).Message()}, nil
		}
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext:      req.GetVolumeContext(),
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

// listTokenPrefix marks a ListVolumes token: the ID to resume at. Resuming
// by ID (not by index) survives volumes deleted between pages.
const listTokenPrefix = "after:"

// ListVolumes implements csi.ControllerServer, in ID order.
func (d *Driver) ListVolumes(ctx context.Context, req *csi.ListVolumesRequest) (*csi.ListVolumesResponse, error) {
	if req.GetMaxEntries() < 0 {
		return nil, status.Error(codes.InvalidArgument, "max_entries must not be negative")
	}
	from := ""
	if tok := req.GetStartingToken(); tok != "" {
		id, ok := strings.CutPrefix(tok, listTokenPrefix)
		if !ok || !volume.ValidID(id) {
			return nil, status.Errorf(codes.Aborted, "starting_token %s was not issued by this driver; list again without a token", quote(tok))
		}
		from = id
	}
	all, err := d.deps.Store.List()
	if err != nil {
		return nil, failure(err, "list volumes")
	}
	resp := &csi.ListVolumesResponse{}
	for _, r := range all {
		if r.ID <= from {
			continue
		}
		if max := int(req.GetMaxEntries()); max > 0 && len(resp.Entries) == max {
			resp.NextToken = listTokenPrefix + resp.Entries[max-1].Volume.VolumeId
			break
		}
		resp.Entries = append(resp.Entries, &csi.ListVolumesResponse_Entry{Volume: d.createResponse(r).Volume})
	}
	return resp, nil
}

// GetCapacity implements csi.ControllerServer: the free space of the state
// dir's filesystem, which is what new backing files draw on, rounded down to
// a step relative to the filesystem's size.
func (d *Driver) GetCapacity(ctx context.Context, req *csi.GetCapacityRequest) (*csi.GetCapacityResponse, error) {
	for _, c := range req.GetVolumeCapabilities() {
		if _, _, err := checkCapability(c); err != nil {
			// A capability we cannot serve has no capacity: 0, not an
			// error (TestBadInput pins this).
			return &csi.GetCapacityResponse{}, nil //nolint:nilerr // no room for what we cannot serve
		}
	}
	if seg := req.GetAccessibleTopology().GetSegments(); seg != nil {
		if node, ok := seg[TopologyKey]; ok && node != d.cfg.NodeID {
			return &csi.GetCapacityResponse{}, nil
		}
	}
	free, total, err := d.stateDirSpace()
	if err != nil {
		return nil, err
	}
	// Coarse on purpose: the provisioners rewrite CSIStorageCapacity on
	// every change (see capacityStepFraction).
	return &csi.GetCapacityResponse{AvailableCapacity: coarseCapacity(free, total)}, nil
}

// ControllerExpandVolume implements csi.ControllerServer: it grows the
// backing file (the "disk"); the node then makes the loop device and the
// filesystem see the new size.
func (d *Driver) ControllerExpandVolume(ctx context.Context, req *csi.ControllerExpandVolumeRequest) (*csi.ControllerExpandVolumeResponse, error) {
	id := req.GetVolumeId()
	if req.GetCapacityRange() == nil {
		return nil, status.Error(codes.InvalidArgument, "capacity_range is required")
	}
	r, release, err := d.open(id, req.GetVolumeCapability())
	if status.Code(err) == codes.NotFound && d.deps.Carrier != nil {
		return d.expandElsewhere(ctx, id, req.GetCapacityRange())
	}
	if err != nil {
		return nil, err
	}
	defer release()
	size, err := d.grow(ctx, r, req.GetCapacityRange())
	if err != nil {
		return nil, err
	}
	// The controller runs in the node plugin (--node-deployment), so the
	// groups of a published volume are in this process's table.
	if err := d.reapplyLimits(ctx, r); err != nil {
		return nil, err
	}
	return &csi.ControllerExpandVolumeResponse{CapacityBytes: size, NodeExpansionRequired: true}, nil
}

// grow extends r's backing file and record to cover cr; it never shrinks.
func (d *Driver) grow(ctx context.Context, r *volume.Record, cr *csi.CapacityRange) (int64, error) {
	size, err := capacityOf(cr, false)
	if err != nil {
		return 0, err
	}
	if size <= r.CapacityBytes {
		if !fits(r.CapacityBytes, cr) {
			return 0, status.Errorf(codes.OutOfRange, "volume %s has %d bytes; shrinking is not supported", r.ID, r.CapacityBytes)
		}
		return r.CapacityBytes, nil
	}
	if err := d.checkGrowth(size - r.CapacityBytes); err != nil {
		return 0, err
	}
	if err := d.deps.Store.GrowBacking(r.ID, size); err != nil {
		return 0, failure(err, "grow backing file")
	}
	old := r.CapacityBytes
	r.CapacityBytes = size
	if err := d.deps.Store.Put(r); err != nil {
		// Back to the size the record keeps: no device saw the new size yet
		// (the node refreshes only after this succeeded), and the filesystem
		// never reaches beyond the recorded size.
		r.CapacityBytes = old
		if terr := d.deps.Store.ResetBacking(r.ID, old); terr != nil {
			klog.FromContext(ctx).Error(terr, "Shrink backing file back after the record write failed")
		}
		return 0, failure(err, "write volume record")
	}
	klog.FromContext(ctx).V(2).Info("Volume backing file grown", "bytes", size)
	return size, nil
}

func (d *Driver) checkGrowth(extra int64) error {
	free, err := d.freeBytes()
	if err != nil {
		return err
	}
	if extra > free {
		return status.Errorf(codes.ResourceExhausted, "growing volume needs %d more bytes, the state dir's filesystem has %d free", extra, free)
	}
	return nil
}
