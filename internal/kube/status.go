package kube

import (
	"math"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// SpecState is what the live-limits controller concluded about a group's
// ThrottleGroup spec; the sink writes it into the status, so that status
// has one writer.
type SpecState struct {
	// Generation is the metadata.generation the controller acted on.
	Generation int64
	// Invalid is why spec.limits were refused ("" = accepted).
	Invalid string
}

// statusInput is everything one status is made of.
type statusInput struct {
	group      throttle.GroupStatus
	hierarchy  string // cgroup paths are shown relative to it
	ratesKnown bool   // the sample has a predecessor, so its rates mean something
	saturated  bool   // a saturation episode is running
	episode    Saturation
	spec       SpecState
	source     string             // status.limitsSource
	prev       []metav1.Condition // last written, for the transition times
	now        time.Time
}

// buildStatus renders a group as a ThrottleGroup status.
func buildStatus(in statusInput) *v1alpha1.ThrottleGroupStatus {
	g := in.group
	st := &v1alpha1.ThrottleGroupStatus{
		ObservedGeneration: in.spec.Generation,
		Phase:              v1alpha1.Phase(g.Phase),
		Backend:            backendOf(g.BackendVersion),
		Semantics:          g.Semantics,
		Device:             g.Spec.Device.String(),
		AppliedLimits:      LimitsToAPI(g.KernelLimits()),
		Protection:         protectionOf(g),
		LimitsSource:       in.source,
	}
	for _, dir := range g.Cgroups {
		st.Cgroups = append(st.Cgroups, relCgroup(in.hierarchy, dir))
	}
	if s := g.Stats; !s.Pending {
		st.Totals = &v1alpha1.Totals{
			ReadBytes: clampInt64(s.ReadBytes), WriteBytes: clampInt64(s.WriteBytes),
			ReadOperations: clampInt64(s.ReadIOs), WriteOperations: clampInt64(s.WriteIOs),
		}
		t := metav1.NewTime(s.SampledAt)
		st.LastSampleTime = &t
		if in.ratesKnown {
			st.Rates = &v1alpha1.Rates{
				ReadBytesPerSecond: round(s.ReadBytesPerSecond), WriteBytesPerSecond: round(s.WriteBytesPerSecond),
				ReadIOPS: round(s.ReadIOPS), WriteIOPS: round(s.WriteIOPS),
			}
			if sat := SaturationOf(g.KernelLimits(), s); sat.Knob != "" {
				st.SaturationPercent = int32(math.Round(100 * sat.Ratio))
				st.SaturatedLimit = sat.Knob
			}
		}
	}
	st.Burst = burstStatus(g.Burst)
	st.Conditions = in.conditions()
	return st
}

// conditions are all five condition types, each True or False, so that
// `kubectl describe` shows the whole picture; transition times carry over
// from prev while a status holds.
func (in statusInput) conditions() []metav1.Condition {
	g := in.group
	conds := append([]metav1.Condition(nil), in.prev...)
	set := func(typ string, ok bool, reason, msg string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&conds, metav1.Condition{
			Type: typ, Status: s, Reason: reason, Message: msg,
			ObservedGeneration: in.spec.Generation, LastTransitionTime: metav1.NewTime(in.now),
		})
	}
	degraded := g.Phase == throttle.PhaseDegraded
	switch {
	case degraded:
		set(v1alpha1.ConditionLimitsApplied, false, "Degraded", "the pod cgroup was not found; only the volume-scope fallback holds the IO: "+g.Placement)
	case len(g.Readback.Failed) > 0:
		// What the kernel holds decides, not what the table meant to write.
		set(v1alpha1.ConditionLimitsApplied, false, "NotInKernel",
			"read back from the kernel and not restored: "+describeChecks(in.hierarchy, g.Readback.Failed))
	case in.spec.Invalid != "":
		set(v1alpha1.ConditionLimitsApplied, false, "InvalidSpec", "spec.limits were refused; appliedLimits stay in force")
	default:
		set(v1alpha1.ConditionLimitsApplied, true, "Applied", appliedMessage(g))
	}
	if degraded {
		set(v1alpha1.ConditionDegraded, true, "PodCgroupNotFound", g.Placement)
	} else {
		set(v1alpha1.ConditionDegraded, false, "Placed", g.Placement)
	}
	if i := indexCondition(g.Conditions, throttle.ConditionStatsFailing); i >= 0 {
		c := g.Conditions[i]
		set(v1alpha1.ConditionStatsFailing, true, reasonOr(c.Reason, "RetriesExhausted"), c.Message)
	} else {
		set(v1alpha1.ConditionStatsFailing, false, "Sampling", "the stats worker samples the group every interval")
	}
	if in.saturated {
		set(v1alpha1.ConditionSaturated, true, "AtLimit", in.episode.String()+" for several samples in a row")
	} else {
		set(v1alpha1.ConditionSaturated, false, "BelowLimit", "below 90% of every limit")
	}
	if in.spec.Invalid != "" {
		set(v1alpha1.ConditionInvalidSpec, true, "Refused", in.spec.Invalid)
	} else {
		set(v1alpha1.ConditionInvalidSpec, false, "Valid", "spec.limits are valid")
	}
	return conds
}

func indexCondition(cs []throttle.Condition, t throttle.ConditionType) int {
	for i, c := range cs {
		if c.Type == t {
			return i
		}
	}
	return -1
}

func reasonOr(r, def string) string {
	if r == "" {
		return def
	}
	return r
}

func backendOf(version int) v1alpha1.Backend {
	if version == 2 {
		return v1alpha1.BackendV2
	}
	return v1alpha1.BackendV1
}

// relCgroup shows dir as a cgroup path ("/kubepods/burstable/pod.../ctr",
// "/" for the root), as /proc/<pid>/cgroup does.
func relCgroup(hierarchy, dir string) string {
	h := filepath.Clean(hierarchy)
	switch {
	case hierarchy == "":
		return dir
	case dir == h:
		return "/"
	case strings.HasPrefix(dir, h+"/"):
		return dir[len(h):]
	}
	return dir
}

// LimitsToAPI renders limits in the API's form: byte rates as quantities
// ("20Mi"), an unlimited knob omitted.
func LimitsToAPI(l throttle.Limits) *v1alpha1.Limits {
	q := func(v uint64) *resource.Quantity {
		if v == 0 {
			return nil
		}
		return resource.NewQuantity(clampInt64(v), resource.BinarySI)
	}
	return &v1alpha1.Limits{
		ReadBytesPerSecond:  q(l.ReadBytesPerSecond),
		WriteBytesPerSecond: q(l.WriteBytesPerSecond),
		ReadIOPS:            clampInt64(l.ReadIOPS),
		WriteIOPS:           clampInt64(l.WriteIOPS),
	}
}

func round(f float64) int64 {
	if f <= 0 || math.IsNaN(f) {
		return 0
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Round(f))
}

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// protectionOf renders the group's part in latency protection, nil when
// it has none.
func protectionOf(g throttle.GroupStatus) *v1alpha1.Protection {
	switch {
	case g.Spec.LatencyTarget > 0:
		return &v1alpha1.Protection{Role: v1alpha1.RoleProtected, LatencyTarget: &metav1.Duration{Duration: g.Spec.LatencyTarget}}
	case g.Spec.Elastic:
		p := &v1alpha1.Protection{Role: v1alpha1.RoleElastic, State: v1alpha1.ElasticHeld}
		if g.Lifted {
			p.State = v1alpha1.ElasticLifted
		}
		return p
	}
	return nil
}
