// Package block runs csi-sanity a second time with raw block volumes
// (Ginkgo allows one suite per test binary, hence its own package).
package block

import (
	"path/filepath"
	"testing"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
)

func TestSanityBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("csi-sanity attaches dozens of loop devices; not in -short")
	}
	h := drivertest.Start(t, drivertest.NewThrottler(t))
	cfg := sanity.NewTestConfig()
	cfg.Address = h.Endpoint
	cfg.TargetPath = filepath.Join(h.WorkDir, "target")
	cfg.StagingPath = filepath.Join(h.WorkDir, "staging")
	cfg.TestVolumeSize = 64 << 20
	cfg.TestVolumeAccessType = "block"
	cfg.TestVolumeParameters = map[string]string{"writeBytesPerSecond": "100Mi", "writeIOPS": "5000"}
	sanity.Test(t, cfg)
	h.AssertClean(t)
}
