package testutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Loop is a loop device a test attached (direct IO on) to a sparse file
// in its t.TempDir(). It is detached in t.Cleanup. This is a small test
// helper; the production loop code lives in internal/loop.
type Loop struct {
	Path  string // /dev/loopN
	Index int
	Major uint32
	Minor uint32
	File  string // the backing file
	fd    *os.File
}

// NewLoop attaches a size-byte file to a free loop device.
func NewLoop(t testing.TB, size int64) *Loop {
	t.Helper()
	RequireRoot(t)
	backing := backingFile(t, size)
	ctl := openLoopControl(t)
	defer ctl.Close()
	for attempt := 0; attempt < 20; attempt++ {
		idx, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			t.Fatalf("LOOP_CTL_GET_FREE: %v", err)
		}
		l, err := configure(t, idx, backing)
		if errors.Is(err, unix.EBUSY) {
			continue // another test took it between GET_FREE and CONFIGURE
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.detach(t) })
		return l
	}
	t.Fatal("no free loop device after 20 attempts")
	return nil
}

// NewLoopMinorAtLeast creates a loop device whose index (and, with
// max_part=0, minor) is at least min with LOOP_CTL_ADD, attaches a
// size-byte file, and removes the device again in t.Cleanup.
func NewLoopMinorAtLeast(t testing.TB, min int, size int64) *Loop {
	t.Helper()
	RequireRoot(t)
	backing := backingFile(t, size)
	ctl := openLoopControl(t)
	defer ctl.Close()
	for idx := min; idx < min+4096; idx++ {
		if _, err := os.Stat(fmt.Sprintf("/sys/block/loop%d", idx)); err == nil {
			continue
		}
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, ctl.Fd(), unix.LOOP_CTL_ADD, uintptr(idx))
		if errno == unix.EEXIST {
			continue
		}
		if errno != 0 {
			t.Fatalf("LOOP_CTL_ADD %d: %v", idx, errno)
		}
		created := int(r)
		t.Cleanup(func() { removeLoop(t, created) })
		l, err := configure(t, created, backing)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.detach(t) }) // runs before removeLoop
		return l
	}
	t.Fatalf("no free loop index from %d", min)
	return nil
}

func backingFile(t testing.TB, size int64) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), Prefix+"-loop.img")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return name
}

func openLoopControl(t testing.TB) *os.File {
	t.Helper()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/loop-control: %v", err)
	}
	return ctl
}

// configure attaches backing to loop idx with LOOP_CONFIGURE, direct IO
// and autoclear (the device detaches when its last opener closes it, so a
// crashed test does not leak it).
func configure(t testing.TB, idx int, backing string) (*Loop, error) {
	path := fmt.Sprintf("/dev/loop%d", idx)
	var dev *os.File
	var err error
	// devtmpfs creates the node right after LOOP_CTL_ADD; give it a moment.
	for i := 0; i < 100; i++ {
		if dev, err = os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0); !errors.Is(err, os.ErrNotExist) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	file, err := os.OpenFile(backing, os.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		dev.Close()
		return nil, err
	}
	defer file.Close()
	cfg := unix.LoopConfig{Fd: uint32(file.Fd())}
	cfg.Info.Flags = unix.LO_FLAGS_DIRECT_IO | unix.LO_FLAGS_AUTOCLEAR
	copy(cfg.Info.File_name[:len(cfg.Info.File_name)-1], backing)
	if err := unix.IoctlLoopConfigure(int(dev.Fd()), &cfg); err != nil {
		dev.Close()
		return nil, fmt.Errorf("LOOP_CONFIGURE %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(dev.Fd()), &st); err != nil {
		dev.Close()
		return nil, err
	}
	return &Loop{Path: path, Index: idx, Major: unix.Major(uint64(st.Rdev)), Minor: unix.Minor(uint64(st.Rdev)), File: backing, fd: dev}, nil
}

// DirectIO reports whether the kernel runs the device with direct IO.
func (l *Loop) DirectIO() bool {
	b, err := os.ReadFile(fmt.Sprintf("/sys/block/loop%d/loop/dio", l.Index))
	return err == nil && len(b) > 0 && b[0] == '1'
}

func (l *Loop) detach(t testing.TB) {
	if err := unix.IoctlSetInt(int(l.fd.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
		t.Errorf("LOOP_CLR_FD %s: %v", l.Path, err)
	}
	l.fd.Close()
}

func removeLoop(t testing.TB, idx int) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Errorf("open /dev/loop-control: %v", err)
		return
	}
	defer ctl.Close()
	// The detach completes asynchronously after the last close: retry EBUSY.
	for i := 0; ; i++ {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, ctl.Fd(), unix.LOOP_CTL_REMOVE, uintptr(idx))
		if errno == 0 || errno == unix.ENODEV {
			return
		}
		if errno != unix.EBUSY || i == 200 {
			t.Errorf("LOOP_CTL_REMOVE %d: %v", idx, errno)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
