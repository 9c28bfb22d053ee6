//go:build v2kernel && linux

package v2kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	return attachLoopFile(t, filepath.Join(t.TempDir(), testutil.Prefix+"-backing"), size, false)
}

// volumesOnDisk attaches a "disk" (a loop device over tmpfs, with ext4 on
// it: the VM has no disk) and, on its filesystem, one 64 MiB volume per
// name attached with direct IO as the driver attaches volumes.
func volumesOnDisk(t *testing.T, names ...string) (disk loopDevice, vols []loopDevice) {
	t.Helper()
	disk = attachLoop(t, 256<<20)
	mnt := mkfsMount(t, disk.Path)
	for _, n := range names {
		vols = append(vols, attachLoopFile(t, filepath.Join(mnt, testutil.Prefix+"-"+n+".img"), 64<<20, true))
	}
	return disk, vols
}

// attachLoopFile creates a size-byte sparse file at path and attaches it to
// a new loop device, with direct IO when direct is set; the device is
// detached when the test ends.
func attachLoopFile(t *testing.T, path string, size int64, direct bool) loopDevice {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
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
		dev := fmt.Sprintf("/dev/loop%d", n)
		fd, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			t.Fatalf("open %s: %v", dev, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		if direct {
			cfg.Info.Flags = unix.LO_FLAGS_DIRECT_IO
		}
		copy(cfg.Info.File_name[:], path)
		err = unix.IoctlLoopConfigure(int(fd.Fd()), &cfg)
		if errors.Is(err, unix.EBUSY) {
			fd.Close()
			continue
		}
		if err != nil {
			fd.Close()
			t.Fatalf("LOOP_CONFIGURE %s: %v", dev, err)
		}
		t.Cleanup(func() {
			if err := unix.IoctlSetInt(int(fd.Fd()), unix.LOOP_CLR_FD, 0); err != nil {
				t.Errorf("detach %s: %v", dev, err)
			}
			fd.Close()
		})
		num, err := throttle.DeviceOf(dev)
		if err != nil {
			t.Fatal(err)
		}
		if direct {
			b, _ := os.ReadFile(fmt.Sprintf("/sys/block/loop%d/loop/dio", n))
			t.Logf("%s on %s: direct IO %s", dev, path, strings.TrimSpace(string(b)))
		}
		return loopDevice{Path: dev, Device: num}
	}
	t.Fatal("no free loop device after 10 attempts")
	return loopDevice{}
}
