package v1alpha1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestGeneratedFilesAreCurrent runs controller-gen (hack/generate.sh, which
// builds it once into the cache) into a temporary directory and compares its
// output with the checked-in deepcopy code and the chart's CRD, so that the
// Go types and the CRD the chart installs cannot drift apart.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs controller-gen")
	}
	root := testutil.RepoRoot(t)
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "hack/generate.sh"), out)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/generate.sh: %v\n%s", err, out)
	}
	for generated, checkedIn := range map[string]string{
		filepath.Join(out, "zz_generated.deepcopy.go"):          filepath.Join(root, "pkg/apis/blkio/v1alpha1/zz_generated.deepcopy.go"),
		filepath.Join(out, "blkio.csi.dev_throttlegroups.yaml"): filepath.Join(root, "charts/csi-blkio/files/blkio.csi.dev_throttlegroups.yaml"),
	} {
		want, err := os.ReadFile(generated)
		if err != nil {
			t.Fatalf("controller-gen did not write %s: %v", filepath.Base(generated), err)
		}
		got, err := os.ReadFile(checkedIn)
		if err != nil {
			t.Fatalf("read checked-in file: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `make generate` and commit the result", checkedIn)
		}
	}
}
