package volume

import (
	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// LimitsSource names the channel that set the limits in force. Limits change
// through channels with different owners (the admin's StorageClass, a
// VolumeAttributesClass the tenant picks from the admin's classes, a live
// ThrottleGroup edit); the ThrottleGroup status shows which one won, so that
// a surprising limit can be traced to whoever set it.
type LimitsSource string

const (
	// SourceStorageClass: the parameters the volume was created with.
	SourceStorageClass LimitsSource = "StorageClass"
	// SourceVolumeAttributes: the volumeAttributes of an inline volume.
	SourceVolumeAttributes LimitsSource = "VolumeAttributes"
	// SourceVolumeAttributesClass: a VolumeAttributesClass, at creation or
	// by ControllerModifyVolume.
	SourceVolumeAttributesClass LimitsSource = "VolumeAttributesClass"
	// SourceThrottleGroup: a live edit of one pod's ThrottleGroup.
	SourceThrottleGroup LimitsSource = "ThrottleGroup"
)

// GroupLimitsSource says where the limits of group key come from: a
// ThrottleGroup edit on one of its publications, else whatever set the
// volume's parameters (a record written before sources were kept reads as
// its StorageClass or volumeAttributes).
func (r *Record) GroupLimitsSource(key throttle.Key) LimitsSource {
	switch {
	case r.GroupOverride(key) != nil:
		return SourceThrottleGroup
	case r.LimitsSource != "":
		return r.LimitsSource
	case r.Ephemeral:
		return SourceVolumeAttributes
	}
	return SourceStorageClass
}

// SetVolumeLimits makes p the volume's parameters, set by source, and drops
// every publication's ThrottleGroup override: the newest change to a
// volume's limits wins, and a VolumeAttributesClass change is a change to
// the whole volume. It reports whether anything changed.
func (r *Record) SetVolumeLimits(p params.Volume, source LimitsSource) bool {
	changed := r.Params != p || r.LimitsSource != source
	r.Params, r.LimitsSource = p, source
	for t, pub := range r.Publications {
		if pub.Limits != nil {
			pub.Limits = nil
			r.Publications[t] = pub
			changed = true
		}
	}
	return changed
}
