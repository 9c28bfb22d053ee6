package loop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// Kernel is the Attacher that speaks to the kernel's loop driver.
type Kernel struct {
	// DevDir holds the device nodes (/dev); SysDir is sysfs (/sys). Both are
	// fields so that a containerized plugin can point them at host mounts.
	DevDir string
	SysDir string
}

// NewKernel returns the Attacher for the host's /dev and /sys.
func NewKernel() *Kernel { return &Kernel{DevDir: "/dev", SysDir: "/sys"} }

var _ Attacher = (*Kernel)(nil)

// attachRetries bounds the race with other processes for a free device:
// LOOP_CTL_GET_FREE only names a device, another caller may bind it first.
const attachRetries = 20

// Attach implements Attacher.
func (k *Kernel) Attach(backingFile string) (Device, error) {
	abs, err := filepath.Abs(backingFile)
	if err != nil {
		return Device{}, err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return Device{}, fmt.Errorf("resolve backing file: %w", err)
	}
	file, err := os.OpenFile(abs, os.O_RDWR, 0)
	if err != nil {
		return Device{}, fmt.Errorf("open backing file: %w", err)
	}
	// The loop device takes its own reference to the file; ours can go.
	defer file.Close()

	ctl, err := os.OpenFile(filepath.Join(k.DevDir, "loop-control"), os.O_RDWR, 0)
	if err != nil {
		return Device{}, fmt.Errorf("open loop-control: %w", err)
	}
	defer ctl.Close()

	for attempt := 0; ; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return Device{}, fmt.Errorf("LOOP_CTL_GET_FREE: %w", err)
		}
		path := filepath.Join(k.DevDir, "loop"+strconv.Itoa(n))
		err = k.configure(path, n, file, abs)
		if errors.Is(err, unix.EBUSY) && attempt < attachRetries {
			time.Sleep(time.Duration(attempt+1) * time.Millisecond)
			continue
		}
		if err != nil {
			return Device{}, fmt.Errorf("attach %s to %s: %w", abs, path, err)
		}
		dio := k.directIO(n)
		if !dio {
			klog.InfoS("Loop device runs without direct IO; the backing filesystem may not support O_DIRECT", "device", path, "file", abs)
		}
		return Device{Path: path, DirectIO: dio}, nil
	}
}

func (k *Kernel) configure(path string, n int, file *os.File, name string) error {
	dev, err := openDevice(path, n)
	if err != nil {
		return err
	}
	defer dev.Close()
	fd := int(dev.Fd())

	info := unix.LoopInfo64{Flags: unix.LO_FLAGS_DIRECT_IO}
	copy(info.File_name[:unix.LO_NAME_SIZE-1], name)
	err = unix.IoctlLoopConfigure(fd, &unix.LoopConfig{Fd: uint32(file.Fd()), Info: info})
	if !errors.Is(err, unix.EINVAL) {
		return err
	}
	// Kernels before 5.8 have no LOOP_CONFIGURE: do it in three steps.
	if err := unix.IoctlSetInt(fd, unix.LOOP_SET_FD, int(file.Fd())); err != nil {
		return fmt.Errorf("LOOP_SET_FD: %w", err)
	}
	info.Flags = 0
	if err := unix.IoctlLoopSetStatus64(fd, &info); err != nil {
		_ = unix.IoctlSetInt(fd, unix.LOOP_CLR_FD, 0)
		return fmt.Errorf("LOOP_SET_STATUS64: %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.LOOP_SET_DIRECT_IO, 1); err != nil {
		klog.InfoS("LOOP_SET_DIRECT_IO refused; continuing with buffered IO", "device", path, "err", err)
	}
	return nil
}

// openDevice opens /dev/loopN, creating the node when /dev is not a
// devtmpfs (a container's /dev may lack nodes the kernel just made).
func openDevice(path string, n int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		if err := unix.Mknod(path, unix.S_IFBLK|0o660, int(unix.Mkdev(7, uint32(n)))); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	return f, err
}

func (k *Kernel) sysLoop(name string) string {
	return filepath.Join(k.SysDir, "block", name, "loop")
}

func (k *Kernel) directIO(n int) bool {
	b, err := os.ReadFile(filepath.Join(k.sysLoop("loop"+strconv.Itoa(n)), "dio"))
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// Find implements Attacher: the device whose backing file is backingFile's
// device and inode (see resolve_linux.go for why not its path). Only
// attached devices have the loop/ directory in sysfs.
func (k *Kernel) Find(backingFile string) (Device, bool, error) {
	abs, err := filepath.Abs(backingFile)
	if err != nil {
		return Device{}, false, err
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	want, err := statID(abs)
	if errors.Is(err, os.ErrNotExist) {
		return Device{}, false, nil // no file, no device of it we could find
	}
	if err != nil {
		return Device{}, false, err
	}
	matches, err := filepath.Glob(filepath.Join(k.SysDir, "block", "loop*", "loop", "backing_file"))
	if err != nil {
		return Device{}, false, err
	}
	base := filepath.Base(abs)
	for _, m := range matches {
		// The printed path may be relative to another namespace's mount,
		// but it ends in the file's own name: only devices whose path does
		// are opened and asked for the file's identity. Opening every
		// attached device instead cost stage a millisecond per 20 devices.
		printed, err := os.ReadFile(m)
		if err != nil || filepath.Base(strings.TrimSpace(string(printed))) != base {
			continue // detached meanwhile, or another file
		}
		name := filepath.Base(filepath.Dir(filepath.Dir(m)))
		path := filepath.Join(k.DevDir, name)
		if id, err := backingID(path); err != nil || id != want {
			continue // detached meanwhile, or another file of that name
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(name, "loop"))
		return Device{Path: path, DirectIO: k.directIO(n)}, true, nil
	}
	return Device{}, false, nil
}

// BackingFile implements Attacher: the path as valid in this mount
// namespace when it can be found (resolve_linux.go), else as sysfs prints it.
func (k *Kernel) BackingFile(devicePath string) (string, error) {
	b, err := os.ReadFile(filepath.Join(k.sysLoop(filepath.Base(devicePath)), "backing_file"))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", devicePath, ErrNotAttached)
	}
	if err != nil {
		return "", err
	}
	return localPath(devicePath, strings.TrimSpace(string(b))), nil
}

// Detach implements Attacher. A device still held open (mounted) is
// detached lazily by the kernel once its last user closes it.
func (k *Kernel) Detach(devicePath string) error {
	dev, err := os.OpenFile(devicePath, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", devicePath, err)
	}
	defer dev.Close()
	err = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0)
	if errors.Is(err, unix.ENXIO) { // not bound: already detached
		return nil
	}
	if err != nil {
		return fmt.Errorf("LOOP_CLR_FD %s: %w", devicePath, err)
	}
	return nil
}

// Refresh implements Attacher.
func (k *Kernel) Refresh(devicePath string) error {
	dev, err := os.OpenFile(devicePath, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", devicePath, err)
	}
	defer dev.Close()
	if err := unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_SET_CAPACITY, 0); err != nil {
		return fmt.Errorf("LOOP_SET_CAPACITY %s: %w", devicePath, err)
	}
	return nil
}

// Size implements Attacher.
func (k *Kernel) Size(devicePath string) (int64, error) {
	dev, err := os.OpenFile(devicePath, os.O_RDONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", devicePath, err)
	}
	defer dev.Close()
	var size uint64
	if err := ioctlUint64(int(dev.Fd()), unix.BLKGETSIZE64, &size); err != nil {
		return 0, fmt.Errorf("BLKGETSIZE64 %s: %w", devicePath, err)
	}
	return int64(size), nil
}
