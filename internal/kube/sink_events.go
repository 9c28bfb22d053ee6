package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// events records the group's Events on its pod: each once per occurrence
// (a flag per kind, cleared when the state ends, so that the next
// occurrence is told again). They are level-triggered from the snapshot,
// so a retried Observe neither loses nor repeats one.
func (s *Sink) events(gs *groupState, st throttle.GroupStatus) {
	ref := podRef(st.Spec.Pod)
	rec := s.o.Recorder
	switch st.Phase {
	case throttle.PhaseActive:
		gs.degraded = false
		if !gs.applied && len(st.Readback.Failed) == 0 {
			gs.applied = true
			rec.Eventf(ref, corev1.EventTypeNormal, ReasonLimitsApplied,
				"Volume %s: %s in force on %d cgroup(s); %s", st.Key.VolumeID, HumanLimits(st.Spec.Limits), len(st.Cgroups), st.Semantics)
		}
	case throttle.PhaseDegraded:
		gs.applied = false // LimitsApplied again once placed properly
		if !gs.degraded {
			gs.degraded = true
			rec.Eventf(ref, corev1.EventTypeWarning, ReasonPlacementDegraded,
				"Volume %s: %s", st.Key.VolumeID, st.Placement)
		}
	}
	if i := indexCondition(st.Conditions, throttle.ConditionStatsFailing); i >= 0 {
		if !gs.failing {
			gs.failing = true
			rec.Eventf(ref, corev1.EventTypeWarning, ReasonStatsFailing,
				"Volume %s: %s", st.Key.VolumeID, st.Conditions[i].Message)
		}
	} else {
		gs.failing = false
	}
	s.burstEvents(gs, st)
	s.readbackEvents(gs, st)
	if gs.saturatedPending {
		gs.saturatedPending = false
		_, sat := gs.episodes.active()
		rec.Eventf(ref, corev1.EventTypeNormal, ReasonSaturated,
			"Volume %s: %s for %d samples in a row; IO is being held to the limit", st.Key.VolumeID, sat, s.o.SaturationSamples)
	}
}

// HumanLimits says limits the way users write them: "write 20Mi/s, read
// 1000 IOPS", or "no limits".
func HumanLimits(l throttle.Limits) string {
	var parts []string
	bytes := func(dir string, v uint64) {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%s %s/s", dir, resource.NewQuantity(clampInt64(v), resource.BinarySI)))
		}
	}
	iops := func(dir string, v uint64) {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%s %d IOPS", dir, v))
		}
	}
	bytes("read", l.ReadBytesPerSecond)
	bytes("write", l.WriteBytesPerSecond)
	iops("read", l.ReadIOPS)
	iops("write", l.WriteIOPS)
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}
