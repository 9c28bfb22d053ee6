package kube

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// readbackEvents tells the pod what the kernel readback found: a Warning
// for every pass that restored entries (the repairs count says which passes
// did), and one Warning per episode of entries it could not restore.
// Paths are shown relative to the hierarchy, as in the status.
func (s *Sink) readbackEvents(gs *groupState, st throttle.GroupStatus) {
	rb := st.Readback
	ref := podRef(st.Spec.Pod)
	if rb.Repairs > gs.repairsTold {
		gs.repairsTold = rb.Repairs
		s.o.Recorder.Eventf(ref, corev1.EventTypeWarning, ReasonLimitsRepaired,
			"Volume %s: the kernel did not hold the limits placed for it (%s); restored. Something else on the node writes these cgroup files",
			st.Key.VolumeID, describeChecks(s.o.Hierarchy, rb.Repaired))
	}
	switch {
	case len(rb.Failed) > 0 && !gs.notInKernel:
		gs.notInKernel = true
		s.o.Recorder.Eventf(ref, corev1.EventTypeWarning, ReasonLimitsNotInKernel,
			"Volume %s: limits not in the kernel and not restored: %s; retrying every stats interval",
			st.Key.VolumeID, describeChecks(s.o.Hierarchy, rb.Failed))
	case len(rb.Failed) == 0 && !rb.At.IsZero():
		gs.notInKernel = false
	}
}

// describeChecks renders entries for an Event or a condition message.
func describeChecks(hierarchy string, cs []throttle.EntryCheck) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		dir := relCgroup(hierarchy, c.Cgroup)
		if c.Err != "" {
			parts = append(parts, fmt.Sprintf("%s: %s", dir, c.Err))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s held %s instead of %s", dir, HumanLimits(c.Found), HumanLimits(c.Want)))
	}
	return strings.Join(parts, "; ")
}

// appliedMessage is the LimitsApplied message of a group whose entries the
// readback found holding (or has not read yet).
func appliedMessage(g throttle.GroupStatus) string {
	rb := g.Readback
	if rb.At.IsZero() {
		return fmt.Sprintf("%s placed on %d cgroup(s); not read back from the kernel yet", HumanLimits(g.KernelLimits()), len(g.Cgroups))
	}
	msg := fmt.Sprintf("%s in the kernel on %d cgroup(s), read back at %s", HumanLimits(g.KernelLimits()), rb.Entries, rb.At.UTC().Format(time.RFC3339))
	if rb.Repairs > 0 {
		msg += fmt.Sprintf("; %d entr(ies) restored after something else changed them", rb.Repairs)
	}
	return msg
}
