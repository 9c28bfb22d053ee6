package driver

import (
	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// A volume is a file on one node: every single-node mode works (several
// pods on the node may share it), no multi-node mode can.
func supportedMode(m csi.VolumeCapability_AccessMode_Mode) bool {
	switch m {
	case csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_MULTI_WRITER:
		return true
	}
	return false
}

// checkCapability validates one capability and returns its access type and
// filesystem type ("" for block or when unset).
func checkCapability(c *csi.VolumeCapability) (volume.AccessType, string, error) {
	if c == nil {
		return "", "", status.Error(codes.InvalidArgument, "volume_capability is required")
	}
	if c.GetAccessMode() == nil {
		return "", "", status.Error(codes.InvalidArgument, "volume_capability.access_mode is required")
	}
	if m := c.GetAccessMode().GetMode(); !supportedMode(m) {
		return "", "", status.Errorf(codes.InvalidArgument,
			"access mode %s is not supported: a csi-blkio volume lives on one node; use a SINGLE_NODE_* mode (ReadWriteOnce, ReadWriteOncePod)", m)
	}
	switch {
	case c.GetBlock() != nil:
		return volume.AccessBlock, "", nil
	case c.GetMount() != nil:
		fs := c.GetMount().GetFsType()
		if fs != "" && fs != params.FsExt4 && fs != params.FsXFS {
			return "", "", status.Errorf(codes.InvalidArgument, "fs_type %s is not supported; use %q or %q", quote(fs), params.FsExt4, params.FsXFS)
		}
		return volume.AccessMount, fs, nil
	}
	return "", "", status.Error(codes.InvalidArgument, "volume_capability needs an access type: mount or block")
}

// checkCapabilities validates the CreateVolume capabilities, which must
// agree on one access type and one filesystem.
func checkCapabilities(caps []*csi.VolumeCapability) (volume.AccessType, string, error) {
	if len(caps) == 0 {
		return "", "", status.Error(codes.InvalidArgument, "volume_capabilities are required")
	}
	var access volume.AccessType
	var fs string
	for i, c := range caps {
		a, f, err := checkCapability(c)
		if err != nil {
			return "", "", err
		}
		if i > 0 && a != access {
			return "", "", status.Error(codes.InvalidArgument, "volume_capabilities mix block and mount access; a volume is one or the other")
		}
		if f != "" && fs != "" && f != fs {
			return "", "", status.Errorf(codes.InvalidArgument, "volume_capabilities ask for two filesystems, %q and %q", fs, f)
		}
		access = a
		if f != "" {
			fs = f
		}
	}
	return access, fs, nil
}

// matchVolume checks that a capability fits an existing volume.
func matchVolume(r *volume.Record, c *csi.VolumeCapability) error {
	access, fs, err := checkCapability(c)
	if err != nil {
		return err
	}
	if access != r.AccessType {
		return status.Errorf(codes.InvalidArgument,
			"volume %s was created for %s access but the request asks for %s access; use a PVC with volumeMode %s",
			r.ID, r.AccessType, access, volumeModeOf(r.AccessType))
	}
	if fs != "" && fs != r.Params.FsType {
		return status.Errorf(codes.InvalidArgument,
			"volume %s holds %s but the request asks for fs_type %s", r.ID, r.Params.FsType, quote(fs))
	}
	return nil
}

func volumeModeOf(a volume.AccessType) string {
	if a == volume.AccessBlock {
		return "Block"
	}
	return "Filesystem"
}
