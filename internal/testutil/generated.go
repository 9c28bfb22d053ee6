package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CheckGenerated runs hack/generate.sh into a temporary directory (it builds
// controller-gen and helm-docs once into the cache) and fails the test for
// every checked-in file that differs from what generation produces now.
// files maps a generated file's name to its path in the repository.
func CheckGenerated(t *testing.T, files map[string]string) {
	t.Helper()
	root := RepoRoot(t)
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "hack/generate.sh"), out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/generate.sh: %v\n%s", err, b)
	}
	for name, checkedIn := range files {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("hack/generate.sh did not write %s: %v", name, err)
		}
		got, err := os.ReadFile(filepath.Join(root, checkedIn))
		if err != nil {
			t.Fatalf("read checked-in file: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `make generate` and commit the result", checkedIn)
		}
	}
}
