package driver

import "github.com/csi-blkio/csi-blkio/pkg/volume"

// throttleProblems says, per publication, what is wrong with its throttle
// group. The throttle core's group status (limits in the kernel or not) is
// consulted once the core exposes it.
func (d *Driver) throttleProblems(r *volume.Record) []string { return nil }
