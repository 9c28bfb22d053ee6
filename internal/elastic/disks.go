package elastic

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Disks finds the disk under a volume's device and reads its counters. It
// is an interface so that the control loop can be tested with scripted
// latencies; SysDisks is the real one.
type Disks interface {
	// DiskOf returns the whole disk that holds the backing file of the loop
	// device dev; groups on the same disk compete for it.
	DiskOf(dev throttle.Device) (throttle.Device, error)
	// Stat reads the disk's cumulative completion counters.
	Stat(disk throttle.Device) (DiskStat, error)
}

// ErrNoDisk says that a backing file lives on a filesystem without a block
// device of its own (tmpfs, overlayfs, a btrfs subvolume): there is no disk
// latency to watch, so the controller leaves the groups held.
var ErrNoDisk = errors.New("backing file is not on a block device")

// SysDisks reads sysfs (normally /sys).
type SysDisks struct {
	Root string
}

var _ Disks = SysDisks{}

// DiskOf follows the loop device's backing file to the device of its
// filesystem, and from a partition to its whole disk: two partitions of one
// disk share its queue, so they are one domain.
func (s SysDisks) DiskOf(dev throttle.Device) (throttle.Device, error) {
	b, err := os.ReadFile(filepath.Join(s.root(), "dev/block", dev.String(), "loop/backing_file"))
	if err != nil {
		return throttle.Device{}, fmt.Errorf("device %s is not a loop device with a backing file: %w", dev, err)
	}
	file := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
	var st unix.Stat_t
	if err := unix.Stat(file, &st); err != nil {
		return throttle.Device{}, fmt.Errorf("stat backing file of %s: %w", dev, err)
	}
	fsDev := throttle.Device{Major: unix.Major(st.Dev), Minor: unix.Minor(st.Dev)}
	if fsDev.Major == 0 {
		return throttle.Device{}, fmt.Errorf("%w: %s of %s is on anonymous device %s", ErrNoDisk, file, dev, fsDev)
	}
	return s.wholeDisk(fsDev)
}

// wholeDisk returns the parent disk of a partition, or dev itself.
func (s SysDisks) wholeDisk(dev throttle.Device) (throttle.Device, error) {
	dir := filepath.Join(s.root(), "dev/block", dev.String())
	// A whole disk has no "partition" file; any other stat error is
	// reported, not taken for a whole disk.
	if _, err := os.Stat(filepath.Join(dir, "partition")); errors.Is(err, os.ErrNotExist) {
		return dev, nil
	} else if err != nil {
		return throttle.Device{}, fmt.Errorf("is %s a partition: %w", dev, err)
	}
	// The sysfs link points into the disk's directory; ".." must be taken
	// after resolving it, not lexically.
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return throttle.Device{}, fmt.Errorf("parent disk of partition %s: %w", dev, err)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(real), "dev"))
	if err != nil {
		return throttle.Device{}, fmt.Errorf("parent disk of partition %s: %w", dev, err)
	}
	var d throttle.Device
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &d.Major, &d.Minor); err != nil {
		return throttle.Device{}, fmt.Errorf("parent disk of partition %s: %q: %w", dev, b, err)
	}
	return d, nil
}

// Stat reads /sys/dev/block/<disk>/stat.
func (s SysDisks) Stat(disk throttle.Device) (DiskStat, error) {
	name := filepath.Join(s.root(), "dev/block", disk.String(), "stat")
	b, err := os.ReadFile(name)
	if err != nil {
		return DiskStat{}, err
	}
	st, err := ParseDiskStat(b)
	if err != nil {
		return DiskStat{}, fmt.Errorf("%s: %w", name, err)
	}
	return st, nil
}

func (s SysDisks) root() string {
	if s.Root == "" {
		return "/sys"
	}
	return s.Root
}
