package throttle

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"syscall"
)

// target is where a group's entries must be.
type target struct {
	dirs     []string // cgroups that get the entry
	watch    string   // pod cgroup to watch for new children (v1)
	pod      string
	statsDir string
	degraded bool
	message  string
}

// plan decides where spec's entries go. Its IO is bounded: at most six
// stat calls (or, for a new v1 group, inotify watches) for the pod and two
// for kubepods. It writes no limit.
func (t *Table) plan(g *group, spec Spec) (target, error) {
	b := t.backend
	if b.Hierarchical() && spec.Scope == ScopeVolume {
		kp, err := FindKubepods(b, t.kubeletRoot)
		if err != nil {
			return target{}, err
		}
		return target{dirs: []string{kp}, statsDir: kp, message: "volume budget on " + kp}, nil
	}
	pod, perr, err := t.findPod(g, spec.Pod.UID)
	if err != nil {
		return target{}, err
	}
	if perr != nil {
		if !b.Hierarchical() && spec.Pod.UID != "" && !t.acceptUnheld {
			// v1's fallback, a root-level entry, does not hold a
			// container's direct IO: placing it would publish the volume
			// unthrottled in all but name. A publish without a pod UID has
			// no pod to find and keeps the fallback (see unheldMessage).
			return target{}, fmt.Errorf("%w: %v", ErrPodCgroupRequired, perr)
		}
		// The kernel fix's fallback to the root group (docs/architecture.md,
		// invariant 3): the volume-scope entries,
		// so the volume is not unthrottled while we look for the pod.
		fb, err := t.fallbackDir()
		if err != nil {
			return target{}, fmt.Errorf("%v; and no fallback: %w", perr, err)
		}
		return target{dirs: []string{fb}, statsDir: fb, degraded: true, message: t.fallbackMessage(perr, fb)}, nil
	}
	if b.Hierarchical() {
		return target{dirs: []string{pod}, pod: pod, statsDir: pod, message: "pod budget on " + pod}, nil
	}
	tg := target{dirs: []string{pod}, watch: pod, pod: pod, statsDir: pod,
		message: "on pod cgroup " + pod + " and each container cgroup below it"}
	if spec.Scope == ScopeVolume {
		root := b.Hierarchy()
		tg.dirs = append(tg.dirs, root)
		tg.statsDir = root
		tg.message += ", and the root-level entry for writeback"
	}
	return tg, nil
}

// findPod returns the cgroup of pod uid, or in perr why there is none.
//
// On v1, a group that watches no pod cgroup yet (a new group: the publish
// path) finds it by adding its inotify watch to each candidate in turn
// rather than by a stat of each: the watch is needed anyway, it fails on a
// path that does not exist, and IN_ONLYDIR makes it fail on anything but a
// directory (a cgroup another volume of the pod watches already counts as
// there without a call: its removal drops that watch). That saves the
// publish path one of the three system calls an Ensure makes beyond the
// limit writes. The watch it adds is recorded in g.watching, so that place
// keeps it and a failed placement drops it. An error of the watch other
// than "not there" (no inotify watches left) is err: the group cannot be
// held, as when place adds the watch.
func (t *Table) findPod(g *group, uid string) (pod string, perr, err error) {
	b := t.backend
	if b.Hierarchical() || t.watcher == nil || g.watching != "" || !ValidPodUID(uid) {
		pod, perr = FindPodCgroup(b, t.kubeletRoot, uid)
		return pod, perr, nil
	}
	for i := range podCgroupCandidates {
		p := podCgroupCandidate(t.podPrefix, uid, i)
		err := t.watcher.Watch(p, g.key)
		if err == nil {
			g.watching = p
			return p, nil, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", nil, err
		}
	}
	return "", podCgroupNotFound(b, t.kubeletRoot, uid), nil
}

// fallbackMessage says where the fallback entry is and, on v1, in plain
// words what it does not hold.
func (t *Table) fallbackMessage(perr error, fb string) string {
	if t.backend.Hierarchical() {
		return fmt.Sprintf("%v; volume-scope fallback entry on %s holds all IO to the device, retrying placement", perr, fb)
	}
	return fmt.Sprintf("%v; the pod's direct IO is NOT throttled: only the root-level entry on %s is in force, "+
		"which holds buffered writeback alone (cgroup v1 limits hold only the tasks directly in a cgroup); retrying placement", perr, fb)
}

// fallbackDir is where the volume-scope entries of a group without a pod
// cgroup go: v1 the hierarchy root (which holds writeback), v2 kubepods.
func (t *Table) fallbackDir() (string, error) {
	if !t.backend.Hierarchical() {
		return t.backend.Hierarchy(), nil
	}
	return FindKubepods(t.backend, t.kubeletRoot)
}

// children lists the child cgroups of dir (one directory read).
func (t *Table) children(dir string) ([]string, error) {
	ents, err := t.backend.FS().ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// childrenIfAny is children for the publish path, where the pod cgroup
// usually has no child yet (the kubelet mounts a pod's volumes before it
// creates the pod's sandbox and containers). A directory whose link count
// is 2 has no subdirectory: kernfs (cgroupfs), like tmpfs and ext4, counts
// each child's ".." link, and filesystems that keep no such count report 1
// and get the directory read. One stat then replaces an open, two
// getdents and a close of a directory that lists every control file of the
// cgroup (21 entries on v1 blkio), a third of Ensure's own work beyond the
// limit writes. The stat comes after the watch is in place, as the read
// would, so a container created meanwhile is still seen by one or the other.
func (t *Table) childrenIfAny(dir string) ([]string, error) {
	if n, ok := linkCount(t.backend.FS(), dir); ok && n == 2 {
		return nil, nil
	}
	return t.children(dir)
}

// linkCount is the link count of name, if f can tell it: through Links
// where f has it (OSFS), else from Stat.
func linkCount(f FS, name string) (uint64, bool) {
	if lf, ok := f.(interface{ Links(string) (uint64, error) }); ok {
		n, err := lf.Links(name)
		return n, err == nil
	}
	fi, err := f.Stat(name)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Nlink), true
}

// place puts g's entries where spec wants them. New entries go in before
// old ones are lifted, so a re-placement never leaves a gap. On v1 the pod
// cgroup is watched before its children are listed, so that a container
// created in between is seen by one or the other (both is harmless: the
// write is idempotent). Called with g.mu held.
func (t *Table) place(g *group, spec Spec) error {
	tg, err := t.plan(g, spec)
	if err != nil {
		return err
	}
	if tg.watch != g.watching {
		t.unwatchLocked(g)
		if tg.watch != "" {
			if err := t.watcher.Watch(tg.watch, g.key); err != nil {
				return err
			}
			g.watching = tg.watch
		}
	}
	var want []entryID // a pod cgroup and its few containers: a slice, not a map
	add := func(dir string) error {
		id := entryID{dir, spec.Device}
		want = append(want, id)
		if err := t.entries.hold(id, g.inc, g.kernelLimits(spec.Limits)); err != nil {
			return err
		}
		g.held.add(id)
		return nil
	}
	for _, d := range tg.dirs {
		if err := add(d); err != nil {
			return err
		}
	}
	if tg.watch != "" {
		kids, err := t.childrenIfAny(tg.watch)
		if err != nil {
			return fmt.Errorf("listing containers of %s: %w", tg.watch, err)
		}
		for _, k := range kids {
			if err := add(k); err != nil && !t.cgroupGone(k, spec.Device, err) {
				return err
			}
		}
	}
	var errs []error
	g.held = slices.DeleteFunc(g.held, func(id entryID) bool {
		if slices.Contains(want, id) {
			return false
		}
		err := t.entries.release(id, g.inc)
		if err != nil {
			errs = append(errs, err)
		}
		return err == nil
	})
	g.spec, g.placed, g.degraded = spec, true, tg.degraded
	g.sinceScan, g.mustScan = 0, false
	g.pod, g.statsDir, g.message = tg.pod, tg.statsDir, tg.message
	g.publish(t.backend.Version())
	return errors.Join(errs...)
}
