package driver

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/mount-utils"

	"github.com/csi-blkio/csi-blkio/internal/atomicfile"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// mountTable reads the mount table; an error is logged and counted and
// yields an empty table, so that the steps after it still run.
func (rc *recovery) mountTable() []mount.MountInfo {
	if rc.o.Mounts == nil {
		return nil
	}
	mis, err := rc.o.Mounts()
	if err != nil {
		rc.failed(err, "read the mount table")
		return nil
	}
	return mis
}

// mountsOf lists the mount points of the loop device dev (number n): its
// filesystem's mounts (st_dev is the device) and bind mounts of its device
// node (a block volume's target), whose root in /dev is the node's name.
func mountsOf(mis []mount.MountInfo, dev string, n throttle.Device) []string {
	var out []string
	for _, mi := range mis {
		fsOfDev := uint32(mi.Major) == n.Major && uint32(mi.Minor) == n.Minor
		nodeBind := (mi.FsType == "devtmpfs" || mi.FsType == "tmpfs") && mi.Root == "/"+filepath.Base(dev)
		if fsOfDev || nodeBind {
			out = append(out, mi.MountPoint)
		}
	}
	return out
}

// detachOrphans unmounts and detaches the orphaned loop devices. Such a
// device is the trace of a call killed between attaching and recording
// (NodeStageVolume, an inline NodePublishVolume) or of a detach that never
// happened; no kubelet uses it, since only a recorded stage is ever
// reported to the kubelet as done.
func (rc *recovery) detachOrphans() {
	if len(rc.orphans) == 0 {
		return
	}
	mis := rc.mountTable()
	for _, o := range rc.orphans {
		kv := []any{"device", o.Device, "backingFile", o.BackingFile, "reason", o.reason}
		n, err := throttle.DeviceOf(o.Device)
		if err != nil {
			rc.failed(err, "device number of an orphaned loop device", kv...)
			continue
		}
		rc.devices[n] = o.Device
		if !rc.unmountAll(mountsOf(mis, o.Device, n), "a mount of an orphaned loop device", kv...) {
			// Still mounted somewhere: detaching now would only be lazy.
			continue
		}
		if err := rc.d.deps.Loop.Detach(o.Device); err != nil {
			rc.failed(err, "detach an orphaned loop device", kv...)
			continue
		}
		rc.count(RecoveryOrphanLoopDetached)
		rc.logger.Info("Recovery: detached an orphaned loop device", kv...)
	}
}

// cleanInline unmounts and removes the entries of the inline staging dir
// that no record stages there: the plugin owns that dir by convention, so
// whatever it holds without a record is a leftover.
func (rc *recovery) cleanInline() {
	dir := filepath.Join(rc.d.cfg.StateDir, "inline")
	ents, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			rc.failed(err, "read the inline staging dir")
		}
		return
	}
	var mis []mount.MountInfo
	if len(ents) > 0 {
		mis = rc.mountTable()
	}
	recorded := rc.recordedPaths()
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if recorded[p] || (rc.ids[e.Name()] && rc.records[e.Name()] == nil) {
			continue
		}
		var mps []string
		for _, mi := range mis {
			if mi.MountPoint == p {
				mps = append(mps, p)
			}
		}
		if !rc.unmountAll(mps, "an inline staging mount no record knows", "volumeID", e.Name()) {
			continue
		}
		rc.removeFile(p, "an inline staging dir no record knows")
	}
}

// removeOrphanFiles removes what interrupted calls leave in the volume
// store: a record's temp file (Put killed before its rename) and a backing
// file without a record (CreateVolume killed between the file and the
// record; the record is written last, so such a file was never handed out,
// and a retried CreateVolume makes it again).
func (rc *recovery) removeOrphanFiles() {
	ents, err := os.ReadDir(rc.d.deps.Store.Dir())
	if err != nil {
		rc.failed(err, "read the volume store")
		return
	}
	busy := map[string]bool{} // backing files a device still holds
	for _, o := range rc.orphans {
		busy[filepath.Base(o.BackingFile)] = true
	}
	for id := range rc.kept {
		busy[id+".img"] = true
	}
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(rc.d.deps.Store.Dir(), name)
		switch {
		case strings.HasSuffix(name, ".json"+atomicfile.TempSuffix):
			rc.removeFile(p, "a volume record's temp file")
		case strings.HasSuffix(name, ".img"):
			id := strings.TrimSuffix(name, ".img")
			if rc.ids[id] || !volume.ValidID(id) {
				continue
			}
			if busy[name] && rc.stillBound(p) {
				continue
			}
			rc.removeFile(p, "a backing file without a volume record")
		}
	}
}

// stillBound reports whether a loop device still holds file (an orphan
// whose detach failed).
func (rc *recovery) stillBound(file string) bool {
	_, found, err := rc.d.deps.Loop.Find(file)
	return err != nil || found
}

func (rc *recovery) removeFile(p, what string) {
	if err := os.Remove(p); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			rc.failed(err, "remove "+what, "path", p)
		}
		return
	}
	rc.count(RecoveryOrphanFileRemoved)
	rc.logger.Info("Recovery: removed "+what, "path", p)
}
