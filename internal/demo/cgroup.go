package demo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupTree creates and removes the demo's cgroups in the hierarchy the
// throttle core uses (v1 blkio, or v2). It only ever removes directories it
// created itself.
type cgroupTree struct {
	hierarchy string
	v2        bool
}

// mkdir creates the cgroup dir. On v2 with parent set, it also enables io
// for dir's children, as kubelet and runc do for kubepods, the QoS level
// and the pod: a limit needs the io controller on the cgroup, and
// a cgroup with processes cannot enable controllers (so only leaves, the
// containers, hold processes).
func (c cgroupTree) mkdir(dir string, parent bool) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	if c.v2 && parent {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+io"), 0); err != nil {
			return fmt.Errorf("enable io below %s: %w", dir, err)
		}
	}
	return nil
}

// rmdir removes the cgroup dir, waiting out the moment in which a process
// that just exited still counts as a member (EBUSY).
func (c cgroupTree) rmdir(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
