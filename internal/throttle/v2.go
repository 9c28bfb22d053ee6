package throttle

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// V2 is the cgroup v2 backend (io.max, io.stat). It takes any root, so the
// qemu harness can run it against a real cgroup2 mount and unit tests
// against a tree in t.TempDir.
type V2 struct{ hierarchy }

var _ Backend = (*V2)(nil)

// NewV2 returns a backend for the cgroup2 hierarchy mounted at root.
func NewV2(root string, fsys FS) *V2 {
	return &V2{newHierarchy(root, fsys)}
}

func (b *V2) Version() int       { return 2 }
func (b *V2) Hierarchical() bool { return true }
func (b *V2) Description() string {
	return "cgroup v2 at " + b.root + " (io.max is hierarchical: one budget per pod, or per volume on kubepods)"
}

// noIOMax turns "io.max does not exist" into what the operator must do. We
// never enable the io controller ourselves: cgroup.subtree_control of a
// parent belongs to whoever manages that cgroup (kubelet, systemd).
func (b *V2) noIOMax(dir string, err error) error {
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, serr := b.fs.Stat(dir); serr != nil {
		return fmt.Errorf("cgroup %s: %w", dir, serr)
	}
	return fmt.Errorf("cgroup %s has no io.max: the io controller is not enabled in %s "+
		"(add io to the parents' cgroup.subtree_control, as kubelet does on a node set up for it): %w",
		dir, filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"), err)
}

func (b *V2) WriteLimits(dir string, dev Device, l Limits) error {
	name := dir + "/io.max" // dir is clean: see V1.WriteLimits
	e := IOMaxEntry{Device: dev, Limits: l}
	if err := b.fs.WriteFile(name, e.appendTo(make([]byte, 0, 128))); err != nil {
		return fmt.Errorf("write %q to %s: %w", e, name, b.noIOMax(dir, err))
	}
	return nil
}

func (b *V2) ReadLimits(dir string, dev Device) (Limits, error) {
	l, err := readDeviceEntry(b.fs, filepath.Join(dir, "io.max"), dev, ParseIOMax)
	if err != nil {
		return Limits{}, b.noIOMax(dir, err)
	}
	return l, nil
}

func (b *V2) ReadCounters(dir string, dev Device) (Counters, error) {
	return readDeviceEntry(b.fs, filepath.Join(dir, "io.stat"), dev, ParseIOStat)
}
