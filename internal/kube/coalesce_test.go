package kube

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

func activeStatus(writeRate int64) *v1alpha1.ThrottleGroupStatus {
	return &v1alpha1.ThrottleGroupStatus{
		ObservedGeneration: 1,
		Phase:              v1alpha1.PhaseActive,
		Backend:            v1alpha1.BackendV1,
		Device:             "7:3",
		Cgroups:            []string{"/kubepods/pod1", "/kubepods/pod1/ctr"},
		AppliedLimits:      LimitsToAPI(throttle.Limits{WriteBytesPerSecond: 20 << 20}),
		Rates:              &v1alpha1.Rates{WriteBytesPerSecond: writeRate},
		Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionLimitsApplied, Status: metav1.ConditionTrue, Reason: "Applied"},
		},
	}
}

func TestCoalescingDue(t *testing.T) {
	c := DefaultCoalescing()
	t0 := time.Unix(1_800_000_000, 0)
	last := activeStatus(20 << 20)
	mutate := func(f func(*v1alpha1.ThrottleGroupStatus)) *v1alpha1.ThrottleGroupStatus {
		s := last.DeepCopy()
		f(s)
		return s
	}
	for _, tc := range []struct {
		name  string
		last  *v1alpha1.ThrottleGroupStatus
		next  *v1alpha1.ThrottleGroupStatus
		after time.Duration
		want  bool
	}{
		{"never written", nil, last, 0, true},
		{"phase at once", last, mutate(func(s *v1alpha1.ThrottleGroupStatus) { s.Phase = v1alpha1.PhaseDegraded }), time.Second, true},
		{"condition status at once", last, mutate(func(s *v1alpha1.ThrottleGroupStatus) {
			s.Conditions[0].Status = metav1.ConditionFalse
		}), time.Second, true},
		{"new condition at once", last, mutate(func(s *v1alpha1.ThrottleGroupStatus) {
			s.Conditions = append(s.Conditions, metav1.Condition{Type: v1alpha1.ConditionInvalidSpec, Status: metav1.ConditionTrue, Reason: "Refused"})
		}), time.Second, true},
		{"saturated waits with the numbers", last, mutate(func(s *v1alpha1.ThrottleGroupStatus) {
			s.Conditions = append(s.Conditions, metav1.Condition{Type: v1alpha1.ConditionSaturated, Status: metav1.ConditionTrue, Reason: "AtLimit"})
		}), 59 * time.Second, false},
		{"saturated goes out after the minimum interval", last, mutate(func(s *v1alpha1.ThrottleGroupStatus) {
			s.Conditions = append(s.Conditions, metav1.Condition{Type: v1alpha1.ConditionSaturated, Status: metav1.ConditionTrue, Reason: "AtLimit"})
		}), time.Minute, true},
		{"condition message alone waits", last, mutate(func(s *v1alpha1.ThrottleGroupStatus) { s.Conditions[0].Message = "other words" }), time.Second, false},
		{"applied limits at once", last, mutate(func(s *v1alpha1.ThrottleGroupStatus) {
			s.AppliedLimits = LimitsToAPI(throttle.Limits{WriteBytesPerSecond: 5 << 20})
		}), time.Second, true},
		{"generation at once", last, mutate(func(s *v1alpha1.ThrottleGroupStatus) { s.ObservedGeneration = 2 }), time.Second, true},
		{"new container at once", last, mutate(func(s *v1alpha1.ThrottleGroupStatus) { s.Cgroups = append(s.Cgroups, "/kubepods/pod1/ctr2") }), time.Second, true},
		{"first rates at once", mutate(func(s *v1alpha1.ThrottleGroupStatus) { s.Rates = nil }), last, time.Second, true},
		{"big rate change waits for the minimum interval", last, activeStatus(1 << 20), 59 * time.Second, false},
		{"big rate change after the minimum interval", last, activeStatus(1 << 20), time.Minute, true},
		{"start from idle after the minimum interval", activeStatus(0), activeStatus(1 << 20), time.Minute, true},
		{"rate wobble below the threshold waits", last, activeStatus(20<<20 - 1<<20), 2 * time.Minute, false},
		{"tiny activity from idle is noise", activeStatus(0), activeStatus(4096), 2 * time.Minute, false},
		{"wobble refreshed after the maximum interval", last, activeStatus(20<<20 - 1<<20), 5 * time.Minute, true},
		{"saturation jump after the minimum interval", last, mutate(func(s *v1alpha1.ThrottleGroupStatus) { s.SaturationPercent = 50 }), time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, why := c.due(tc.last, t0, t0, tc.next, t0.Add(tc.after), false)
			if got := v != wait; got != tc.want {
				t.Errorf("due = %v (%q), want a write: %v", v, why, tc.want)
			}
		})
	}
}

// TestCoalescingSettles: in the samples right after a prominent write (a
// new limit) the numbers that moved are written at once, inside the minimum
// interval; after that the minimum interval holds again.
func TestCoalescingSettles(t *testing.T) {
	c := DefaultCoalescing()
	t0 := time.Unix(1_800_000_000, 0)
	withLimit := func(rate int64) *v1alpha1.ThrottleGroupStatus {
		s := activeStatus(rate)
		s.AppliedLimits = LimitsToAPI(throttle.Limits{WriteBytesPerSecond: 5 << 20})
		return s
	}
	if v, why := c.due(activeStatus(20<<20), t0, t0, withLimit(20<<20), t0.Add(time.Second), false); v != writeProminent {
		t.Fatalf("new applied limits: %v (%s), want a prominent write", v, why)
	}
	// Written at t0+1s; the limit takes hold over the next samples.
	if v, why := c.due(withLimit(20<<20), t0.Add(time.Second), t0, withLimit(8<<20), t0.Add(2*time.Second), true); v != writeSettling {
		t.Fatalf("rates falling to the new limit: %v (%s), want a settling write", v, why)
	}
	if v, _ := c.due(withLimit(8<<20), t0.Add(2*time.Second), t0, withLimit(5<<20), t0.Add(3*time.Second), true); v != writeSettling {
		t.Fatalf("rates still falling: %v, want a settling write", v)
	}
	if v, _ := c.due(withLimit(5<<20), t0.Add(3*time.Second), t0, withLimit(5<<20-1<<16), t0.Add(4*time.Second), true); v != wait {
		t.Fatalf("rates held while settling: %v, want wait", v)
	}
	if v, _ := c.due(withLimit(5<<20), t0.Add(3*time.Second), t0.Add(3*time.Second), withLimit(1<<20), t0.Add(5*time.Second), false); v != wait {
		t.Fatalf("a change after settling, inside the minimum interval: %v, want wait", v)
	}
}
