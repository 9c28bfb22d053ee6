package kube

import (
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

func TestStatusShowsProtection(t *testing.T) {
	held := throttle.Limits{WriteBytesPerSecond: 100 << 20}
	cases := []struct {
		name        string
		g           throttle.GroupStatus
		role        v1alpha1.ProtectionRole
		state       v1alpha1.ElasticState
		target      time.Duration
		wantApplied bool // appliedLimits has the write limit
	}{
		{"ordinary", throttle.GroupStatus{Spec: throttle.Spec{Limits: held}}, "", "", 0, true},
		{"protected", throttle.GroupStatus{Spec: throttle.Spec{LatencyTarget: 2 * time.Millisecond}}, v1alpha1.RoleProtected, "", 2 * time.Millisecond, false},
		{"elastic held", throttle.GroupStatus{Spec: throttle.Spec{Limits: held, Elastic: true}}, v1alpha1.RoleElastic, v1alpha1.ElasticHeld, 0, true},
		{"elastic lifted", throttle.GroupStatus{Spec: throttle.Spec{Limits: held, Elastic: true}, Lifted: true}, v1alpha1.RoleElastic, v1alpha1.ElasticLifted, 0, false},
	}
	for _, c := range cases {
		st := buildStatus(statusInput{group: c.g, now: time.Unix(0, 0)})
		p := st.Protection
		if c.role == "" {
			if p != nil {
				t.Errorf("%s: protection %+v, want none", c.name, p)
			}
		} else if p == nil || p.Role != c.role || p.State != c.state {
			t.Errorf("%s: protection %+v, want role %s state %q", c.name, p, c.role, c.state)
		} else if c.target != 0 && (p.LatencyTarget == nil || p.LatencyTarget.Duration != c.target) {
			t.Errorf("%s: latencyTarget %v, want %v", c.name, p.LatencyTarget, c.target)
		}
		if got := st.AppliedLimits != nil && st.AppliedLimits.WriteBytesPerSecond != nil; got != c.wantApplied {
			t.Errorf("%s: appliedLimits %+v, want a write limit: %v", c.name, st.AppliedLimits, c.wantApplied)
		}
	}
}
