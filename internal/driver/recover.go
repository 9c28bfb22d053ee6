package driver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/klog/v2"
	"k8s.io/mount-utils"

	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// LoopLister lists the host's bound loop devices; *loop.Kernel fits.
type LoopLister interface {
	List() ([]loop.Attachment, error)
}

// RecoverOptions are the side effects start-up recovery needs beyond the
// driver's own Deps. They are separate because only recovery walks the
// whole host (all loop devices, the mount table, the kubelet's cgroups);
// no RPC does.
type RecoverOptions struct {
	// Loops lists bound loop devices (*loop.Kernel).
	Loops LoopLister
	// Mounts reads this mount namespace's mount table, normally
	// mount.ParseMountInfo("/proc/self/mountinfo").
	Mounts func() ([]mount.MountInfo, error)
	// Cgroups is the hierarchy whose entries the stale-limit pass reads and
	// lifts (the table's backend); nil skips that pass.
	Cgroups throttle.Backend
	// KubeletCgroupRoot is the kubelet's --cgroup-root, as the table has it.
	KubeletCgroupRoot string
}

// Recover reconciles the state dir's records with the kernel after the
// plugin (re)starts, before it serves: a crash or an upgrade leaves loop
// devices, mounts and kernel limits in place but loses the in-memory
// throttle table. It
//   - re-places the throttle group of every publication whose volume still
//     has its loop device, so limits are enforced again (and new v1
//     container cgroups get them) before the first RPC;
//   - leaves recorded mounts alone and does not re-attach or re-mount
//     anything: after a reboot the kubelet's NodeStageVolume and
//     NodePublishVolume do that;
//   - detaches loop devices bound to files in the state dir that no record
//     says are staged on them, unmounting their mounts first, unmounts
//     inline staging mounts no record knows, and removes files interrupted
//     calls left behind;
//   - lifts kernel limits for the state dir's loop devices from cgroups
//     that no throttle group holds.
//
// Each action is logged and counted in the report. A failure of one step
// is logged, counted as RecoveryFailed, and recovery goes on; only an
// unreadable state dir is an error.
func (d *Driver) Recover(ctx context.Context, o RecoverOptions) (RecoveryReport, error) {
	start := time.Now()
	rc := &recovery{d: d, o: o, report: RecoveryReport{}, logger: klog.FromContext(ctx)}
	if err := rc.readRecords(); err != nil {
		return rc.report, err
	}
	if err := rc.classifyLoops(); err != nil {
		return rc.report, err
	}
	rc.detachOrphans()
	rc.cleanInline()
	rc.removeOrphanFiles()
	rc.restoreGroups(ctx)
	rc.liftStaleLimits()
	kv := append([]any{"volumes", len(rc.records), "duration", time.Since(start).Round(time.Millisecond)}, rc.report.keyValues()...)
	rc.logger.Info("Start-up recovery finished", kv...)
	return rc.report, nil
}

// recovery is one run of Recover.
type recovery struct {
	d      *Driver
	o      RecoverOptions
	report RecoveryReport
	logger klog.Logger

	volDir  string                    // the store's directory, symlinks resolved
	ids     map[string]bool           // every ID with a record file, readable or not
	records map[string]*volume.Record // the readable ones
	// kept is the loop device each staged volume keeps, by volume ID.
	kept map[string]string
	// orphans are the loop devices to detach.
	orphans []orphanLoop
	// devices are the device numbers of the state dir's loop devices (kept
	// and orphaned): the stale-limit pass looks for these only.
	devices map[throttle.Device]string
	// restored are the groups placed again, by key.
	restored map[throttle.Key]throttle.Device
	// unsure are devices with a group that could not be restored: their
	// kernel entries are left as they are, since lifting them could leave
	// a published volume unthrottled.
	unsure map[throttle.Device]bool
}

type orphanLoop struct {
	loop.Attachment
	id     string
	reason string
}

func (rc *recovery) count(action string) { rc.report[action]++ }

func (rc *recovery) failed(err error, msg string, kv ...any) {
	rc.count(RecoveryFailed)
	rc.logger.Error(err, "Recovery: "+msg, kv...)
}

// readRecords loads every record. An unreadable record is logged and its
// volume left alone: recovery never acts on a volume it cannot read.
func (rc *recovery) readRecords() error {
	dir := rc.d.deps.Store.Dir()
	rc.volDir = dir
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		rc.volDir = resolved
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("recovery: read the volume store: %w", err)
	}
	rc.ids, rc.records = map[string]bool{}, map[string]*volume.Record{}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !volume.ValidID(id) {
			continue
		}
		rc.ids[id] = true
		r, err := rc.d.deps.Store.Get(id)
		if err != nil {
			rc.count(RecoveryRecordUnreadable)
			rc.logger.Error(err, "Recovery: volume record unreadable; leaving the volume, its loop device and mounts untouched", "volumeID", id)
			continue
		}
		rc.records[id] = r
	}
	return nil
}

// classifyLoops sorts the loop devices bound to files in the state dir into
// the one each staged volume keeps and the orphans.
func (rc *recovery) classifyLoops() error {
	atts, err := rc.o.Loops.List()
	if err != nil {
		return fmt.Errorf("recovery: list loop devices: %w", err)
	}
	byID := map[string][]loop.Attachment{}
	for _, a := range atts {
		if filepath.Dir(a.BackingFile) != rc.volDir {
			continue // not ours
		}
		id, _ := strings.CutSuffix(filepath.Base(a.BackingFile), ".img")
		byID[id] = append(byID[id], a)
	}
	rc.kept, rc.devices = map[string]string{}, map[throttle.Device]string{}
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		rc.classify(id, byID[id])
	}
	for _, id := range slices.Sorted(maps.Keys(rc.records)) {
		r := rc.records[id]
		if r.Staging != nil && rc.kept[id] == "" {
			rc.count(RecoveryLoopDeviceMissing)
			rc.logger.Info("Recovery: staged volume has no loop device (node rebooted, or it was detached behind the plugin's back); "+
				"its throttle groups wait for the kubelet's NodeStageVolume and NodePublishVolume", "volumeID", id, "recordedDevice", r.Staging.Device)
		}
	}
	return nil
}

func (rc *recovery) classify(id string, atts []loop.Attachment) {
	orphan := func(a loop.Attachment, reason string) {
		rc.orphans = append(rc.orphans, orphanLoop{Attachment: a, id: id, reason: reason})
	}
	if rc.ids[id] && rc.records[id] == nil {
		return // unreadable record: hands off
	}
	r := rc.records[id]
	if r == nil || r.Staging == nil {
		reason := "no volume record"
		if r != nil {
			reason = "the volume record says not staged"
		}
		for _, a := range atts {
			orphan(a, reason)
		}
		return
	}
	// Keep the recorded device if it is among them; else the first one
	// bound to the live file (the record is stale).
	keep := -1
	for i, a := range atts {
		if a.Device == r.Staging.Device {
			keep = i
		}
	}
	if keep < 0 {
		for i, a := range atts {
			if !a.Deleted {
				keep = i
				break
			}
		}
	}
	if keep < 0 {
		for _, a := range atts {
			orphan(a, "bound to an unlinked file")
		}
		return
	}
	for i, a := range atts {
		if i != keep {
			orphan(a, "a second loop device of staged volume "+id+" (kept "+atts[keep].Device+")")
		}
	}
	dev := atts[keep].Device
	rc.kept[id] = dev
	if dev != r.Staging.Device {
		old := r.Staging.Device
		r.Staging.Device = dev
		if err := rc.d.deps.Store.Put(r); err != nil {
			rc.failed(err, "update the staged device of a volume record", "volumeID", id, "device", dev)
		} else {
			rc.count(RecoveryStagingDeviceUpdated)
			rc.logger.Info("Recovery: volume record named another loop device; updated to the one bound to its backing file",
				"volumeID", id, "recorded", old, "device", dev)
		}
	}
	if n, err := throttle.DeviceOf(dev); err == nil {
		rc.devices[n] = dev
	}
}

// restoreGroups places the throttle group of every publication whose
// volume kept its loop device. A publication whose pod cgroup is gone (the
// pod went away while the plugin was down) gets the degraded fallback, as a
// publish would; the kubelet's NodeUnpublishVolume then removes it.
func (rc *recovery) restoreGroups(ctx context.Context) {
	rc.restored, rc.unsure = map[throttle.Key]throttle.Device{}, map[throttle.Device]bool{}
	for _, id := range slices.Sorted(maps.Keys(rc.kept)) {
		r := rc.records[id]
		if len(r.Publications) == 0 {
			continue
		}
		dev, err := throttle.DeviceOf(rc.kept[id])
		if err != nil {
			rc.failed(err, "device number of a staged volume", "volumeID", id)
			continue
		}
		for _, target := range slices.Sorted(maps.Keys(r.Publications)) {
			pub := r.Publications[target]
			key := r.Group(pub)
			if _, done := rc.restored[key]; done {
				continue // two targets of one pod share a group
			}
			phase, err := rc.d.deps.Throttler.Ensure(ctx, key, throttle.Spec{
				Device: dev, Limits: restoredLimits(r, key), Scope: r.Params.Scope, Pod: pub.Pod,
				LatencyTarget: r.Params.LatencyTarget, Elastic: r.Params.Elastic,
			})
			if err != nil {
				rc.unsure[dev] = true
				rc.failed(err, "restore a throttle group", "group", key, "target", target)
				continue
			}
			rc.restored[key] = dev
			rc.d.trackBurst(r, key)
			rc.count(RecoveryGroupRestored)
			rc.logger.Info("Recovery: throttle group restored", "group", key, "device", dev, "phase", phase, "target", target)
		}
	}
}

// restoredLimits are the limits a restored group had: the same the
// publish placed (the volume's parameters, or a live edit persisted in the
// record), so that a restart never changes what the kernel enforces.
func restoredLimits(r *volume.Record, key throttle.Key) throttle.Limits {
	return r.GroupLimits(key)
}

// recordedPaths are the staging paths and targets the records know; no
// recovery step unmounts them.
func (rc *recovery) recordedPaths() map[string]bool {
	paths := map[string]bool{}
	for _, r := range rc.records {
		if r.Staging != nil {
			paths[r.Staging.Path] = true
		}
		for t := range r.Publications {
			paths[t] = true
		}
	}
	return paths
}

// unmountAll unmounts every mount in mps, deepest first, skipping recorded
// paths, and counts what it unmounted. It reports whether all are gone.
func (rc *recovery) unmountAll(mps []string, why string, kv ...any) bool {
	sort.Slice(mps, func(i, j int) bool { return strings.Count(mps[i], "/") > strings.Count(mps[j], "/") })
	recorded := rc.recordedPaths()
	ok := true
	for _, mp := range mps {
		if recorded[mp] {
			rc.logger.Info("Recovery: leaving a recorded mount alone", append([]any{"mountPoint", mp}, kv...)...)
			ok = false
			continue
		}
		if err := rc.d.deps.Mounter.Unmount(mp); err != nil && !errors.Is(err, os.ErrNotExist) {
			rc.failed(err, "unmount "+why, append([]any{"mountPoint", mp}, kv...)...)
			ok = false
			continue
		}
		rc.count(RecoveryOrphanMountUnmounted)
		rc.logger.Info("Recovery: unmounted "+why, append([]any{"mountPoint", mp}, kv...)...)
	}
	return ok
}
