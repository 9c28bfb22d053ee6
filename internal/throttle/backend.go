package throttle

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Backend is the narrow interface between the throttle core and one cgroup
// hierarchy. The table decides which cgroups get entries (scopes, pods,
// containers); a backend only knows how to write, read back and count
// entries in one cgroup directory. Directories are absolute paths inside
// Hierarchy().
type Backend interface {
	// Version is 1 or 2.
	Version() int
	// Description says which hierarchy is in use and where, for Probe and
	// the group status.
	Description() string
	// Hierarchy is the root directory of the hierarchy (v1: the blkio mount).
	Hierarchy() string
	// Hierarchical reports whether a limit on a cgroup holds its
	// descendants (v2) or only the tasks directly in it (v1).
	Hierarchical() bool
	// WriteLimits puts the limits for dev on dir; Limits{} removes them.
	WriteLimits(dir string, dev Device, l Limits) error
	// ReadLimits reads back what the kernel holds for dev on dir.
	ReadLimits(dir string, dev Device) (Limits, error)
	// ReadCounters reads dir's cumulative counters for dev, including its
	// descendants. A device the cgroup has done no IO to reads zero.
	ReadCounters(dir string, dev Device) (Counters, error)
	// FS is the filesystem the backend works on (the table uses it for its
	// bounded lookups of pod and container cgroups).
	FS() FS
}

// hierarchy is what both backends hold: the root of the mounted hierarchy
// and the filesystem they read and write it through.
type hierarchy struct {
	root string
	fs   FS
}

// newHierarchy cleans root; a nil fsys is the real filesystem (OSFS).
func newHierarchy(root string, fsys FS) hierarchy {
	if fsys == nil {
		fsys = OSFS{}
	}
	return hierarchy{root: filepath.Clean(root), fs: fsys}
}

func (h hierarchy) Hierarchy() string { return h.root }
func (h hierarchy) FS() FS            { return h.fs }

// ErrNoBackend is returned by DetectBackend when no usable hierarchy exists.
var ErrNoBackend = errors.New("no cgroup hierarchy with IO throttling found")

// DetectBackend finds the hierarchy that throttles IO under cgroupRoot
// (normally /sys/fs/cgroup):
//   - <root>/cgroup.controllers lists io: cgroup v2 mounted at the root
//     (unified hosts, most clusters today);
//   - <root>/blkio/blkio.throttle.read_bps_device exists: cgroup v1 blkio
//     (v1 and hybrid hosts — a hybrid host's <root>/unified has no io);
//   - <root>/unified/cgroup.controllers lists io: v2 at <root>/unified.
func DetectBackend(cgroupRoot string, fsys FS) (Backend, error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	if hasIOController(fsys, cgroupRoot) {
		return NewV2(cgroupRoot, fsys), nil
	}
	v1 := filepath.Join(cgroupRoot, "blkio")
	if _, err := fsys.Stat(filepath.Join(v1, string(V1ReadBPS))); err == nil {
		return NewV1(v1, fsys), nil
	}
	unified := filepath.Join(cgroupRoot, "unified")
	if hasIOController(fsys, unified) {
		return NewV2(unified, fsys), nil
	}
	return nil, fmt.Errorf("%w under %s: %s does not list \"io\", %s does not exist, and %s does not list \"io\"; "+
		"mount cgroup v2 with the io controller or cgroup v1 with blkio (CONFIG_BLK_DEV_THROTTLING)",
		ErrNoBackend, cgroupRoot, filepath.Join(cgroupRoot, "cgroup.controllers"),
		filepath.Join(v1, string(V1ReadBPS)), filepath.Join(unified, "cgroup.controllers"))
}

func hasIOController(fsys FS, dir string) bool {
	b, err := fsys.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return false
	}
	for _, c := range strings.Fields(string(b)) {
		if c == "io" {
			return true
		}
	}
	return false
}

// isGone reports whether err says the cgroup or the device is not there any
// more; lifting an entry that vanished with its cgroup or device is done.
func isGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV)
}
