// Package sanity runs the CSI conformance suite (csi-test's sanity package)
// in-process against the real driver: real loop devices, mkfs, mounts and
// the real throttle core, on a unix socket in t.TempDir(). Ginkgo allows one
// suite per test binary, so the block-volume run lives in ./block.
package sanity

import (
	"path/filepath"
	"testing"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
)

// Run starts the driver and runs csi-sanity against it with volumes of
// accessType ("mount" or "block") carrying params, then checks that the
// suite left no loop device or mount behind.
func Run(t *testing.T, accessType string, params map[string]string) {
	if testing.Short() {
		t.Skip("csi-sanity formats and mounts dozens of loop devices; not in -short")
	}
	h := drivertest.Start(t, drivertest.NewThrottle(t))
	cfg := sanity.NewTestConfig()
	cfg.Address = h.Endpoint
	cfg.TargetPath = filepath.Join(h.WorkDir, "target")
	cfg.StagingPath = filepath.Join(h.WorkDir, "staging")
	// Small sparse volumes keep mkfs fast; the expansion tests add 1 GiB.
	cfg.TestVolumeSize = 64 << 20
	cfg.TestVolumeAccessType = accessType
	// Limits on every volume, so that every publish goes through the
	// throttle core for real.
	cfg.TestVolumeParameters = params
	// A VolumeAttributesClass's parameters, so that the ModifyVolume specs
	// (and CreateVolume with a class) run instead of skipping: one limit
	// raised, one lifted with "max".
	cfg.TestVolumeMutableParameters = map[string]string{"writeBytesPerSecond": "200Mi", "readIOPS": "max"}
	sanity.Test(t, cfg)
	h.AssertClean(t)
}
