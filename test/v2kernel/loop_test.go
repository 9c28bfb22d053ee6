//go:build v2kernel && linux

package v2kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// loopDevice is a loop device attached to a sparse file in the test's temp
// dir (tmpfs in the VM), detached when the test ends.
type loopDevice struct {
	Path   string
	Device throttle.Device
}

// attachLoop attaches a new loop device of the given size with ioctls, so
// that the kernel-facts tests depend on no tool. The backing file sits on
// tmpfs, which has no O_DIRECT: the loop itself runs buffered, and direct IO
// by the writer to /dev/loopN still goes through the block layer where
// blk-throttle acts.
func attachLoop(t *testing.T, size int64) loopDevice {
	t.Helper()
	backing := filepath.Join(t.TempDir(), testutil.Prefix+"-backing")
	f, err := os.OpenFile(backing, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open loop-control: %v", err)
	}
	defer ctl.Close()

	// Another attach may take the free device between GET_FREE and
	// CONFIGURE (EBUSY): ask again.
	for attempt := 0; attempt < 10; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			t.Fatalf("LOOP_CTL_GET_FREE: %v", err)
		}
		path := fmt.Sprintf("/dev/loop%d", n)
		dev, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		copy(cfg.Info.File_name[:], backing)
		err = unix.IoctlLoopConfigure(int(dev.Fd()), &cfg)
		if errors.Is(err, unix.EBUSY) {
			dev.Close()
			continue
		}
		if err != nil {
			dev.Close()
			t.Fatalf("LOOP_CONFIGURE %s: %v", path, err)
		}
		t.Cleanup(func() {
			if err := unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0); err != nil {
				t.Errorf("detach %s: %v", path, err)
			}
			dev.Close()
		})
		num, err := throttle.DeviceOf(path)
		if err != nil {
			t.Fatal(err)
		}
		return loopDevice{Path: path, Device: num}
	}
	t.Fatal("no free loop device after 10 attempts")
	return loopDevice{}
}
