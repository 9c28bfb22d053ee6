package v1alpha1_test

import (
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestGeneratedFilesAreCurrent compares the checked-in deepcopy code and the
// chart's CRD with controller-gen's output for the current types, so that the
// Go types and the CRD the chart installs cannot drift apart.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs controller-gen")
	}
	testutil.CheckGenerated(t, map[string]string{
		"zz_generated.deepcopy.go":          "pkg/apis/blkio/v1alpha1/zz_generated.deepcopy.go",
		"blkio.csi.dev_throttlegroups.yaml": "charts/csi-blkio/files/blkio.csi.dev_throttlegroups.yaml",
	})
}
