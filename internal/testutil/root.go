// Package testutil holds helpers shared by the tests of several packages.
package testutil

import (
	"fmt"
	"os"
	"testing"
)

// Prefix starts the name of every loop backing file, cgroup and mount point
// a test creates, so that a crashed run's leftovers can be found and swept.
const Prefix = "csiblkio-test"

// RequireRoot skips a test that needs root (loop devices, mounts, cgroups)
// with a message saying so. CI and the dev machines run as root, so there
// these tests run.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it attaches loop devices, mounts filesystems and writes cgroups")
	}
}

// PodUID returns a distinct pod UID (UUID-shaped, as kubelet's) for i.
func PodUID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-000000000000", i) }
