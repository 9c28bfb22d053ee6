package demo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/mount-utils"

	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/mounter"
)

// sweep is the last line of defence after the CSI calls that should have
// cleaned up: it unmounts whatever is still mounted below dir and detaches
// loop devices whose backing file lies below it. After a clean run it finds
// nothing. It never looks outside dir, the demo's own temp dir.
func sweep(dir string) error {
	var errs []error
	m := mount.New("")
	mps, err := mountsUnder(dir)
	errs = append(errs, err)
	for _, p := range mps {
		if err := m.Unmount(p); err != nil {
			errs = append(errs, fmt.Errorf("unmount leftover %s: %w", p, err))
		}
	}
	devs, err := loopsBackedUnder(dir)
	errs = append(errs, err)
	for _, d := range devs {
		if err := loop.NewKernel().Detach(d); err != nil {
			errs = append(errs, fmt.Errorf("detach leftover %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// mountsUnder lists the mount points below dir, deepest first (a bind
// mount goes before what it sits on).
func mountsUnder(dir string) ([]string, error) {
	mps, err := mount.New("").List()
	if err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	out := mounter.Below(mps, dir)
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out, nil
}

// loopsBackedUnder lists the loop devices whose backing file is below dir.
func loopsBackedUnder(dir string) ([]string, error) {
	files, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // detached meanwhile
		}
		if strings.HasPrefix(strings.TrimSpace(string(b)), dir+"/") {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(f))))
		}
	}
	return out, nil
}

// removeWorkDir deletes the temp dir, unless something is still mounted
// below it: RemoveAll would then delete a volume's contents through the
// mount instead of the demo's own files.
func removeWorkDir(dir string) error {
	left, err := mountsUnder(dir)
	if err != nil {
		return fmt.Errorf("not removing %s: %w", dir, err)
	}
	if len(left) > 0 {
		return fmt.Errorf("not removing %s: still mounted below it: %s", dir, strings.Join(left, ", "))
	}
	return os.RemoveAll(dir)
}
