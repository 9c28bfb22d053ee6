//go:build chart

package helm

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// binaryFlags builds cmd/csi-blkio and reads the flags `serve --help` lists,
// with the type name the flag package prints ("" for booleans).
func binaryFlags(t *testing.T) map[string]string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "csi-blkio")
	build := exec.Command("go", "build", "-o", bin, "./cmd/csi-blkio")
	build.Dir = testutil.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/csi-blkio: %v\n%s", err, out)
	}
	// The flag package prints the usage on stderr and exits 0 for -help.
	out, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	flags := map[string]string{}
	line := regexp.MustCompile(`(?m)^  -([a-z0-9_-]+)(?: ([a-z]+))?$`)
	for _, m := range line.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = m[2]
	}
	if len(flags) < 10 {
		t.Fatalf("could not read the flags of csi-blkio serve --help:\n%s", out)
	}
	return flags
}

// TestBinaryAcceptsTheChartsFlags: every flag the chart passes to the plugin,
// in every variant, is one the real binary defines, with a value of its type.
func TestBinaryAcceptsTheChartsFlags(t *testing.T) {
	h := newHelm(t)
	defined := binaryFlags(t)
	for name, values := range map[string]string{"defaults": "", "sidecars": sidecarsOn, "everything": everythingOn} {
		t.Run(name, func(t *testing.T) {
			args := container(t, h.render(t, values).daemonSet, "csi-blkio").Args
			for _, a := range args[1:] {
				flag, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
				typ, ok := defined[flag]
				if !ok {
					t.Errorf("csi-blkio serve has no flag --%s", flag)
					continue
				}
				if err := parsesAs(typ, value); err != nil {
					t.Errorf("--%s=%s is not a %s: %v", flag, value, typ, err)
				}
			}
		})
	}
}

func parsesAs(typ, value string) error {
	var err error
	switch typ {
	case "int", "uint":
		_, err = strconv.ParseInt(value, 10, 64)
	case "float":
		_, err = strconv.ParseFloat(value, 64)
	case "duration":
		_, err = time.ParseDuration(value)
	case "":
		_, err = strconv.ParseBool(value)
	}
	return err // string and value (klog's -v) take anything
}
