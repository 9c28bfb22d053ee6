// Package volume persists what the driver knows about each volume, one JSON
// record per volume under <state-dir>/volumes, so that a restarted plugin can
// rebuild its throttle groups and find its loop devices and mounts.
package volume

import (
	"iter"
	"maps"
	"slices"

	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// AccessType is how a volume is consumed.
type AccessType string

const (
	// AccessMount: a filesystem on the loop device, bind-mounted into pods.
	AccessMount AccessType = "mount"
	// AccessBlock: the loop device node itself, bind-mounted onto a file.
	AccessBlock AccessType = "block"
)

// Record is everything the driver needs to know about one volume. It is
// written whole on every change (see Store.Put), so a reader never sees a
// half-updated record.
type Record struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// CapacityBytes is the size of the backing file and so of the device.
	CapacityBytes int64         `json:"capacityBytes"`
	Params        params.Volume `json:"params"`
	// LimitsSource is the channel that last set Params' limits; empty in
	// records written before it was kept (see GroupLimitsSource).
	LimitsSource LimitsSource `json:"limitsSource,omitempty"`
	AccessType   AccessType   `json:"accessType"`
	// Ephemeral marks a CSI inline volume: created by NodePublishVolume and
	// deleted by NodeUnpublishVolume.
	Ephemeral bool `json:"ephemeral,omitempty"`

	// Staging is set while the volume is attached (and for a mount volume,
	// mounted at Staging.Path).
	Staging *Staging `json:"staging,omitempty"`
	// Publications are keyed by target path.
	Publications map[string]Publication `json:"publications,omitempty"`
}

// Staging is where a staged volume lives on the node.
type Staging struct {
	// Path is the staging target path (kubelet's, or the driver's own for an
	// inline volume).
	Path string `json:"path"`
	// Device is the loop device node, e.g. /dev/loop7.
	Device string `json:"device"`
	// DirectIO records whether the kernel accepted direct IO for the device.
	DirectIO bool `json:"directIO"`
}

// Publication is one NodePublishVolume: a target path in one pod.
type Publication struct {
	TargetPath string          `json:"targetPath"`
	Pod        throttle.PodRef `json:"pod"`
	ReadOnly   bool            `json:"readOnly,omitempty"`
	// SingleWriter: published with SINGLE_NODE_SINGLE_WRITER
	// (ReadWriteOncePod), so no second publication is allowed.
	SingleWriter bool `json:"singleWriter,omitempty"`
	// Limits, when set, override the volume's parameters for this
	// publication's throttle group: a live edit of its ThrottleGroup
	// (Driver.UpdateLimits). Persisted so that a re-publish or a plugin
	// restart keeps the edited limits.
	Limits *throttle.Limits `json:"limits,omitempty"`
}

// Same reports whether p and q are the same publication (limit overrides
// compared by value, not by pointer).
func (p Publication) Same(q Publication) bool {
	pl, ql := p.Limits, q.Limits
	p.Limits, q.Limits = nil, nil
	return p == q && (pl == nil) == (ql == nil) && (pl == nil || *pl == *ql)
}

// Group is the throttle group key of a publication.
func (r *Record) Group(p Publication) throttle.Key {
	return throttle.Key{VolumeID: r.ID, PodUID: p.Pod.UID}
}

// GroupLimits returns the baseline limits for the throttle group key: a
// live override on one of its publications (UpdateLimits sets it on all of
// them), else the volume's parameters with the per-GiB limits computed for
// its current capacity.
func (r *Record) GroupLimits(key throttle.Key) throttle.Limits {
	if o := r.GroupOverride(key); o != nil {
		return *o
	}
	return r.Params.Baseline(r.CapacityBytes)
}

// GroupOverride returns the live override of the group key, nil if none.
func (r *Record) GroupOverride(key throttle.Key) *throttle.Limits {
	for _, p := range r.Publications {
		if p.Limits != nil && r.Group(p) == key {
			return p.Limits
		}
	}
	return nil
}

// SharesGroup reports whether another publication than target uses key.
func (r *Record) SharesGroup(target string, key throttle.Key) bool {
	for t, p := range r.Publications {
		if t != target && r.Group(p) == key {
			return true
		}
	}
	return false
}

// Groups yields each distinct throttle group of r's publications once, with
// the first of its target paths, in the order of the target paths (so that
// what a caller writes or reports per group comes in a stable order). Two
// publications share a group when one pod mounts the volume at two targets.
func (r *Record) Groups() iter.Seq2[string, throttle.Key] {
	return func(yield func(string, throttle.Key) bool) {
		seen := map[throttle.Key]bool{}
		for _, t := range slices.Sorted(maps.Keys(r.Publications)) {
			key := r.Group(r.Publications[t])
			if seen[key] {
				continue
			}
			seen[key] = true
			if !yield(t, key) {
				return
			}
		}
	}
}

// InUse reports whether the volume is staged or published anywhere.
func (r *Record) InUse() bool { return r.Staging != nil || len(r.Publications) > 0 }
