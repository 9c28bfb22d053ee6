package driver

import (
	"context"
	"sort"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"
)

// DeleteVolume implements csi.ControllerServer. Deleting a volume that does
// not exist succeeds; deleting one in use is refused so that no pod loses
// its disk under it.
func (d *Driver) DeleteVolume(ctx context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	id := req.GetVolumeId()
	r, release, err := d.open(id, nil)
	if status.Code(err) == codes.NotFound {
		return &csi.DeleteVolumeResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer release()
	if r.InUse() {
		var where []string
		if r.Staging != nil {
			where = append(where, "staged at "+r.Staging.Path)
		}
		for t := range r.Publications {
			where = append(where, "published at "+t)
		}
		sort.Strings(where)
		return nil, status.Errorf(codes.FailedPrecondition,
			"volume %s is in use (%s); unpublish and unstage it first", id, strings.Join(where, ", "))
	}
	// A loop device left by a crash between attach and the record update
	// would keep the file's blocks alive: detach it first.
	if img, err := d.deps.Store.BackingPath(id); err == nil {
		if dev, ok, err := d.deps.Loop.Find(img); err == nil && ok {
			if err := d.deps.Loop.Detach(dev.Path); err != nil {
				return nil, failure(err, "detach leftover loop device")
			}
		}
	}
	if err := d.deps.Store.Delete(id); err != nil {
		return nil, failure(err, "delete volume")
	}
	klog.FromContext(ctx).V(2).Info("Volume deleted", "name", r.Name)
	return &csi.DeleteVolumeResponse{}, nil
}
