//go:build v2kernel && linux

package v2kernel

import (
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// mkfsMount formats dev with ext4 (with the mkfs the driver runs) and mounts
// it until the test ends. The inode tables and journal are initialised up
// front, so that no lazy-init IO of the kernel's runs into the test's
// measurements.
func mkfsMount(t *testing.T, dev string) string {
	t.Helper()
	return testutil.MountExt4(t, dev, "-E", "lazy_itable_init=0,lazy_journal_init=0")
}
