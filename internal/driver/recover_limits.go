package driver

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// maxScannedCgroups bounds the stale-limit walk: a node has a few hundred
// pod and container cgroups, and a runaway tree must not stall start-up.
const maxScannedCgroups = 100000

// liftStaleLimits lifts kernel limits for the state dir's loop devices
// (kept and orphaned) from every cgroup no throttle group holds. A loop
// device outlives its detach, and the next volume attached to it would
// inherit what was left on it: the root-level writeback entry of a volume
// scope, a container's entry after a crash in NodeUnpublishVolume. Only
// those devices are looked at, and only where the table places entries:
// the hierarchy root itself and the kubelet's kubepods tree.
//
// It runs after restoreGroups, so the table holds the entries it should;
// an entry is kept when a restored group of that device holds it or when
// it sits on (or directly below) one of the group's possible pod cgroups —
// the watcher may be placing a new container's entry at this very moment,
// and a degraded group may be finding its pod.
func (rc *recovery) liftStaleLimits() {
	b := rc.o.Cgroups
	if b == nil || len(rc.devices) == 0 {
		return
	}
	devs := make([]throttle.Device, 0, len(rc.devices))
	for n := range rc.devices {
		if !rc.unsure[n] {
			devs = append(devs, n)
		}
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].String() < devs[j].String() })
	for _, dir := range rc.scannedCgroups(b) {
		for _, dev := range devs {
			l, err := b.ReadLimits(dir, dev)
			if errors.Is(err, fs.ErrNotExist) {
				break // a cgroup without the files (v2 root) or one removed meanwhile
			}
			if err != nil {
				rc.failed(err, "read kernel limits", "cgroup", dir, "device", dev)
				continue
			}
			if l.IsUnlimited() || rc.expected(b, dir, dev) {
				continue
			}
			if err := b.WriteLimits(dir, dev, throttle.Limits{}); err != nil {
				rc.failed(err, "lift a stale kernel limit", "cgroup", dir, "device", dev, "limits", l)
				continue
			}
			rc.count(RecoveryStaleLimitLifted)
			rc.logger.Info("Recovery: lifted a stale kernel limit no throttle group holds", "cgroup", dir,
				"device", dev, "loopDevice", rc.devices[dev], "limits", l)
		}
	}
}

// scannedCgroups is the hierarchy root and every cgroup of the kubepods
// trees under the kubelet's cgroup root.
func (rc *recovery) scannedCgroups(b throttle.Backend) []string {
	out := []string{b.Hierarchy()}
	var walk func(dir string)
	walk = func(dir string) {
		if len(out) >= maxScannedCgroups {
			return
		}
		out = append(out, dir)
		ents, err := b.FS().ReadDir(dir)
		if err != nil {
			return // removed meanwhile
		}
		for _, e := range ents {
			if e.IsDir() {
				walk(filepath.Join(dir, e.Name()))
			}
		}
	}
	for _, rel := range throttle.KubepodsCandidates(rc.o.KubeletCgroupRoot) {
		top := filepath.Join(b.Hierarchy(), rel)
		if fi, err := b.FS().Stat(top); err == nil && fi.IsDir() {
			walk(top)
		}
	}
	if len(out) >= maxScannedCgroups {
		rc.logger.Info("Recovery: stale-limit scan stopped at its bound", "cgroups", maxScannedCgroups)
	}
	return out
}

// expected reports whether a restored group of dev may hold an entry on dir.
func (rc *recovery) expected(b throttle.Backend, dir string, dev throttle.Device) bool {
	for key, d := range rc.restored {
		if d != dev {
			continue
		}
		if st, ok := rc.d.deps.Throttler.Get(key); ok && slices.Contains(st.Cgroups, dir) {
			return true
		}
		if key.PodUID == "" {
			continue
		}
		for _, rel := range throttle.PodCgroupCandidates(rc.o.KubeletCgroupRoot, key.PodUID) {
			pod := filepath.Join(b.Hierarchy(), rel)
			if dir == pod || filepath.Dir(dir) == pod {
				return true
			}
		}
	}
	return false
}
