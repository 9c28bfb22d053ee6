package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Burst Events, on the pod.
const (
	// ReasonBurstCreditSpent (Normal): a limit's burst bucket ran dry; the
	// kernel holds the baseline.
	ReasonBurstCreditSpent = "BurstCreditSpent"
	// ReasonBurstCreditFull (Normal): a bucket that ran dry is full again.
	ReasonBurstCreditFull = "BurstCreditFull"
)

// burstEvents tells the pod when a bucket runs dry and when it is full
// again, once per occurrence: drained remembers, per limit, that the dry
// bucket was told and its refill not yet. A new bucket starts full, which
// is not news.
func (s *Sink) burstEvents(gs *groupState, st throttle.GroupStatus) {
	if st.Burst == nil {
		return
	}
	if gs.drained == nil {
		gs.drained = map[string]bool{}
	}
	ref := podRef(st.Spec.Pod)
	for _, b := range st.Burst.Buckets {
		switch {
		case b.Empty && !gs.drained[b.Knob]:
			gs.drained[b.Knob] = true
			s.o.Recorder.Eventf(ref, corev1.EventTypeNormal, ReasonBurstCreditSpent,
				"Volume %s: %s burst credit spent; held to its baseline %s until a tenth of the bucket is back (burst %s)",
				st.Key.VolumeID, b.Knob, humanRate(b.Knob, b.Baseline), humanRate(b.Knob, b.Rate))
		case b.Full && gs.drained[b.Knob]:
			gs.drained[b.Knob] = false
			s.o.Recorder.Eventf(ref, corev1.EventTypeNormal, ReasonBurstCreditFull,
				"Volume %s: %s burst credit full again: %d s at %s", st.Key.VolumeID, b.Knob, st.Burst.Seconds, humanRate(b.Knob, b.Rate))
		}
	}
}

// humanRate says one knob's value the way users write it: "40Mi/s" or
// "3000 IOPS".
func humanRate(knob string, v uint64) string {
	if strings.HasSuffix(knob, "IOPS") {
		return fmt.Sprintf("%d IOPS", v)
	}
	return resource.NewQuantity(clampInt64(v), resource.BinarySI).String() + "/s"
}
