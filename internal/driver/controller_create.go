package driver

import (
	"context"
	"errors"
	"reflect"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

const (
	mib = int64(1) << 20
	// defaultCapacity is used when CreateVolume has no capacity range.
	defaultCapacity = params.DefaultInlineSize
	// minXFSSize: mkfs.xfs refuses filesystems smaller than 300 MiB.
	minXFSSize = 300 * mib
)

// CreateVolume implements csi.ControllerServer: a sparse backing file and a
// record in the state dir. The ID derives from the name, so a retry finds
// the volume its first attempt made.
func (d *Driver) CreateVolume(ctx context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	name := req.GetName()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	if err := checkName("name", name); err != nil {
		return nil, err
	}
	access, capFs, err := checkCapabilities(req.GetVolumeCapabilities())
	if err != nil {
		return nil, err
	}
	if req.GetVolumeContentSource() != nil {
		return nil, status.Error(codes.InvalidArgument, "volume_content_source is not supported: csi-blkio has no snapshots or clones; create an empty volume")
	}
	p, err := params.Parse(req.GetParameters(), params.ModeStorageClass)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if capFs != "" {
		p.FsType = capFs // external-provisioner moves the fstype parameter into the capability
	}
	source := volume.SourceStorageClass
	if m := req.GetMutableParameters(); len(m) > 0 {
		// A PVC created with a VolumeAttributesClass: the class's limits
		// apply on top of the StorageClass's from the start.
		if p, err = params.ApplyMutable(m, p); err != nil {
			return nil, status.Error(codes.InvalidArgument, "mutable_parameters: "+err.Error())
		}
		source = volume.SourceVolumeAttributesClass
	}
	size, err := capacityOf(req.GetCapacityRange(), access == volume.AccessMount && p.FsType == params.FsXFS)
	if err != nil {
		return nil, err
	}
	if err := d.checkTopology(req.GetAccessibilityRequirements()); err != nil {
		return nil, err
	}

	want := &volume.Record{
		ID: volume.IDForName(name), Name: name, CapacityBytes: size, Params: p, AccessType: access,
		LimitsSource: source,
	}
	release, err := d.lock(want.ID)
	if err != nil {
		return nil, err
	}
	defer release()

	existing, err := d.deps.Store.Get(want.ID)
	switch {
	case err == nil:
		if existing.Name != name || !reflect.DeepEqual(existing.Params, p) || existing.AccessType != access ||
			!fits(existing.CapacityBytes, req.GetCapacityRange()) {
			return nil, status.Errorf(codes.AlreadyExists,
				"volume %q exists with different parameters, capabilities or capacity (%d bytes); delete it or choose another name", name, existing.CapacityBytes)
		}
		return d.createResponse(existing), nil
	case !errors.Is(err, volume.ErrNotFound):
		return nil, failure(err, "read volume record")
	}

	if err := d.checkRoom(size); err != nil {
		return nil, err
	}
	if err := d.deps.Store.CreateBacking(want.ID, size); err != nil {
		return nil, failure(err, "create backing file")
	}
	if err := d.deps.Store.Put(want); err != nil {
		_ = d.deps.Store.Delete(want.ID)
		return nil, failure(err, "write volume record")
	}
	klog.FromContext(ctx).V(2).Info("Volume created", "volumeID", want.ID, "name", name, "bytes", size, "access", access, "limits", p.Limits, "scope", p.Scope)
	return d.createResponse(want), nil
}

func (d *Driver) createResponse(r *volume.Record) *csi.CreateVolumeResponse {
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{
		VolumeId:           r.ID,
		CapacityBytes:      r.CapacityBytes,
		AccessibleTopology: []*csi.Topology{d.topology()},
	}}
}

func (d *Driver) topology() *csi.Topology {
	return &csi.Topology{Segments: map[string]string{TopologyKey: d.cfg.NodeID}}
}

// capacityOf picks the volume size: the required bytes (default 1 GiB)
// rounded up to a whole MiB, within the limit.
func capacityOf(r *csi.CapacityRange, xfs bool) (int64, error) {
	req, lim := r.GetRequiredBytes(), r.GetLimitBytes()
	if req < 0 || lim < 0 {
		return 0, status.Error(codes.InvalidArgument, "capacity_range bytes must not be negative")
	}
	if lim > 0 && req > lim {
		return 0, status.Errorf(codes.InvalidArgument, "capacity_range required_bytes %d exceeds limit_bytes %d", req, lim)
	}
	size := req
	if size == 0 {
		size = defaultCapacity
		if lim > 0 && lim < size {
			size = lim
		}
	}
	if size > (1 << 62) {
		return 0, status.Errorf(codes.OutOfRange, "capacity %d bytes is beyond what a file can hold", size)
	}
	size = (size + mib - 1) / mib * mib
	if xfs && size < minXFSSize {
		size = minXFSSize // mkfs.xfs refuses anything smaller
	}
	if lim > 0 && size > lim {
		return 0, status.Errorf(codes.OutOfRange,
			"capacity_range [%d, %d] holds no size the driver can make: sizes are whole MiB (at least 300Mi for xfs)", req, lim)
	}
	return size, nil
}

// fits reports whether an existing volume of size bytes satisfies r.
func fits(size int64, r *csi.CapacityRange) bool {
	if r.GetRequiredBytes() > size {
		return false
	}
	return r.GetLimitBytes() == 0 || size <= r.GetLimitBytes()
}

// checkTopology refuses a volume that must live on another node.
func (d *Driver) checkTopology(req *csi.TopologyRequirement) error {
	if len(req.GetRequisite()) == 0 {
		return nil
	}
	for _, t := range req.GetRequisite() {
		if node, ok := t.GetSegments()[TopologyKey]; !ok || node == d.cfg.NodeID {
			return nil
		}
	}
	return status.Errorf(codes.ResourceExhausted,
		"this csi-blkio instance provisions only on node %s, which the requisite topology excludes; run the provisioner with --node-deployment", d.cfg.NodeID)
}

// checkRoom refuses a volume the state dir's filesystem could not hold if it
// were filled (backing files are sparse, so this does not reserve space) and
// enforces --max-volumes.
func (d *Driver) checkRoom(size int64) error {
	free, err := d.freeBytes()
	if err != nil {
		return err
	}
	if size > free {
		return status.Errorf(codes.ResourceExhausted,
			"volume of %s does not fit: the state dir's filesystem has %s free; ask for less or free space",
			resource.NewQuantity(size, resource.BinarySI), resource.NewQuantity(free, resource.BinarySI))
	}
	if d.cfg.MaxVolumes > 0 {
		all, err := d.deps.Store.List()
		if err != nil {
			return failure(err, "list volumes")
		}
		if int64(len(all)) >= d.cfg.MaxVolumes {
			return status.Errorf(codes.ResourceExhausted, "node %s holds its maximum of %d volumes (--max-volumes); delete one first", d.cfg.NodeID, d.cfg.MaxVolumes)
		}
	}
	return nil
}
