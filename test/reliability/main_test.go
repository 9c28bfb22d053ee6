package reliability

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binary is the csi-blkio binary under test, built once by TestMain.
var binary string

// TestMain builds the real binary with the race detector, so that every
// plugin a test starts reports data races in its log (checked when it
// stops). The tests that need it skip without root or in -short, so the
// build is skipped there too.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse() // testing.Short reads the flags
	if os.Geteuid() != 0 || testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "csiblkio-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "csi-blkio")
	build := exec.Command("go", "build", "-race", "-o", binary, "github.com/csi-blkio/csi-blkio/cmd/csi-blkio")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building csi-blkio: %v\n", err)
		return 1
	}
	return m.Run()
}
