// Package sanity runs the CSI conformance suite (csi-test's sanity package)
// in-process against the real driver: real loop devices, mkfs, mounts and
// the real throttle core, on a unix socket in t.TempDir().
package sanity

import (
	"path/filepath"
	"testing"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
)

func TestSanity(t *testing.T) {
	if testing.Short() {
		t.Skip("csi-sanity formats and mounts dozens of loop devices; not in -short")
	}
	h := drivertest.Start(t, drivertest.NewThrottler(t))

	cfg := sanity.NewTestConfig()
	cfg.Address = h.Endpoint
	cfg.TargetPath = filepath.Join(h.WorkDir, "target")
	cfg.StagingPath = filepath.Join(h.WorkDir, "staging")
	// Small sparse volumes keep mkfs fast; the expansion tests add 1 GiB.
	cfg.TestVolumeSize = 64 << 20
	// Limits on every volume, so that every publish goes through the
	// throttle core for real.
	cfg.TestVolumeParameters = map[string]string{"writeBytesPerSecond": "100Mi", "readIOPS": "10000"}
	sanity.Test(t, cfg)

	h.AssertClean(t)
}
