//go:build v2kernel && linux

package v2kernel

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// cgroupRoot is where a pure cgroup v2 host mounts the unified hierarchy.
const cgroupRoot = "/sys/fs/cgroup"

// inVMEnv is set to 1 by the VM's /init (hack/qemu/init).
const inVMEnv = "CSI_BLKIO_V2KERNEL"

// requireV2Kernel stops a test that needs a real cgroup v2 io controller:
// it fails inside the VM, where the harness promises one, and skips
// elsewhere with a pointer to the tier that runs it.
func requireV2Kernel(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	problem := v2KernelProblem()
	if problem == "" {
		return
	}
	if os.Getenv(inVMEnv) == "1" {
		t.Fatalf("inside the v2 VM, but %s", problem)
	}
	t.Skipf("%s; these tests run inside a VM: hack/qemu/run.sh", problem)
}

// v2KernelProblem says what is missing for the tests, or "" when nothing is.
func v2KernelProblem() string {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return "cannot statfs " + cgroupRoot + ": " + err.Error()
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return cgroupRoot + " is not a cgroup2 mount (a v1 or hybrid host)"
	}
	b, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.subtree_control"))
	if err != nil {
		return err.Error()
	}
	enabled := strings.Fields(string(b))
	for _, c := range []string{"io", "memory"} {
		if !slices.Contains(enabled, c) {
			return "the " + c + " controller is not enabled in " + cgroupRoot + "/cgroup.subtree_control"
		}
	}
	return ""
}
