package driver

import (
	"context"
	"os"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// NodeGetVolumeStats implements csi.NodeServer: usage from statfs, or the
// device size for a block volume. (CSI 1.13 moved the volume condition out
// of this call into NodeGetVolumeHealth.)
func (d *Driver) NodeGetVolumeStats(ctx context.Context, req *csi.NodeGetVolumeStatsRequest) (*csi.NodeGetVolumeStatsResponse, error) {
	id, path := req.GetVolumeId(), req.GetVolumePath()
	if err := checkIDAndVolumePath(id, path); err != nil {
		return nil, err
	}
	r, err := d.record(id)
	if err != nil {
		return nil, err
	}
	if err := volumePathOf(r, path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume path %s of volume %s: %v", quote(path), id, err)
	}
	resp := &csi.NodeGetVolumeStatsResponse{}
	if r.AccessType == volume.AccessBlock {
		if r.Staging != nil {
			if size, err := d.deps.Loop.Size(r.Staging.Device); err == nil {
				resp.Usage = []*csi.VolumeUsage{{Unit: csi.VolumeUsage_BYTES, Total: size}}
			}
		}
		return resp, nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return nil, failure(err, "statfs volume path")
	}
	bs := st.Bsize
	resp.Usage = []*csi.VolumeUsage{
		{Unit: csi.VolumeUsage_BYTES, Total: int64(st.Blocks) * bs, Available: int64(st.Bavail) * bs, Used: int64(st.Blocks-st.Bfree) * bs},
		{Unit: csi.VolumeUsage_INODES, Total: int64(st.Files), Available: int64(st.Ffree), Used: int64(st.Files - st.Ffree)},
	}
	return resp, nil
}
