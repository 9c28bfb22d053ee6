package driver

import (
	"errors"
	"fmt"
	"github.com/container-storage-interface/spec/lib/go/csi"
	"path/filepath"
	"strings"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// maxPathLen is PATH_MAX: nothing longer can name a file on Linux.
const maxPathLen = 4096

// quote shortens a user-supplied string for an error message so that a
// 4 KiB ID does not become a 4 KiB log line.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// checkID admits only IDs of the driver's own shape. The shape has no "/"
// or "." so no ID can name a path outside the state dir.
func checkID(id string) error {
	if id == "" {
		return status.Error(codes.InvalidArgument, "volume_id is required")
	}
	if !volume.ValidID(id) {
		return status.Errorf(codes.InvalidArgument,
			"volume_id %s is not a volume of this driver (IDs match %s); pass the ID that CreateVolume returned", quote(id), volume.IDPattern)
	}
	return nil
}

// checkPath admits an absolute path without ".." elements or NUL bytes:
// target and staging paths come from the CO and are used as they are.
func checkPath(field, p string) error {
	switch {
	case p == "":
		return status.Errorf(codes.InvalidArgument, "%s is required", field)
	case len(p) > maxPathLen:
		return status.Errorf(codes.InvalidArgument, "%s is longer than %d bytes", field, maxPathLen)
	case strings.ContainsRune(p, 0):
		return status.Errorf(codes.InvalidArgument, "%s %s contains a NUL byte", field, quote(p))
	case !filepath.IsAbs(p):
		return status.Errorf(codes.InvalidArgument, "%s %s must be an absolute path", field, quote(p))
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return status.Errorf(codes.InvalidArgument, "%s %s must not contain \"..\"", field, quote(p))
		}
	}
	return nil
}

// checkIDAndPath validates the ID and one path argument of a node call.
func checkIDAndPath(id, field, path string) error {
	if err := checkID(id); err != nil {
		return err
	}
	return checkPath(field, path)
}

// checkIDAndVolumePath validates the arguments of a call that names one of
// a volume's own paths (NodeGetVolumeStats, NodeExpandVolume). Unlike a
// staging or target path, volume_path is never used as it is, only compared
// with the volume's recorded paths (volumePathOf), so beyond "required" any
// other path is NotFound there rather than InvalidArgument here: csi-sanity
// asks NotFound for a path such as "some/path".
func checkIDAndVolumePath(id, path string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if path == "" {
		return status.Error(codes.InvalidArgument, "volume_path is required")
	}
	return nil
}

// volumePathOf admits only r's staging path or one of its target paths:
// statfs or a resize anywhere else would act on another filesystem as if it
// were this volume.
func volumePathOf(r *volume.Record, path string) error {
	if _, published := r.Publications[path]; !published && (r.Staging == nil || r.Staging.Path != path) {
		return status.Errorf(codes.NotFound, "volume %s is neither staged nor published at %s", r.ID, quote(path))
	}
	return nil
}

// open claims id (see lock), loads its record (NotFound when there is none)
// and, when c is set, checks that the capability fits the volume. On
// success the caller must call release; on error nothing is held.
func (d *Driver) open(id string, c *csi.VolumeCapability) (r *volume.Record, release func(), err error) {
	if release, err = d.lock(id); err != nil {
		return nil, nil, err
	}
	if r, err = d.record(id); err == nil && c != nil {
		err = matchVolume(r, c)
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	return r, release, nil
}

// lock validates id and claims it for this call; a concurrent call on the
// same volume gets Aborted.
func (d *Driver) lock(id string) (release func(), err error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	release, ok := d.inflight.acquire(id)
	if !ok {
		return nil, status.Errorf(codes.Aborted, "another operation on volume %s is in progress; retry", id)
	}
	return release, nil
}

// record loads a volume record, NotFound when there is none.
func (d *Driver) record(id string) (*volume.Record, error) {
	r, err := d.deps.Store.Get(id)
	if errors.Is(err, volume.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist on node %s", id, d.cfg.NodeID)
	}
	if err != nil {
		return nil, failure(err, "read volume record")
	}
	return r, nil
}

// failure turns an OS-level error into a status: a full disk is
// ResourceExhausted (the user must free space), anything else Internal.
func failure(err error, what string) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return status.Errorf(codes.ResourceExhausted, "%s: %v; free space in the state dir's filesystem", what, err)
	}
	return status.Errorf(codes.Internal, "%s: %v", what, err)
}
