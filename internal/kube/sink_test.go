package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// fakeTGs keeps ThrottleGroups in memory and applies the sink's status
// patches the way the apiserver's status subresource does.
type fakeTGs struct {
	mu      sync.Mutex
	objs    map[string]*v1alpha1.ThrottleGroup
	creates int
	patches int
	fail    error // returned by the next call, then cleared
}

func newFakeTGs() *fakeTGs { return &fakeTGs{objs: map[string]*v1alpha1.ThrottleGroup{}} }

func (f *fakeTGs) failing() error {
	err := f.fail
	f.fail = nil
	return err
}

// find returns the stored object, or the apiserver's answer when the fake
// is failing or the object does not exist. Callers hold f.mu.
func (f *fakeTGs) find(ns, name string) (*v1alpha1.ThrottleGroup, error) {
	if err := f.failing(); err != nil {
		return nil, err
	}
	o, ok := f.objs[ns+"/"+name]
	if !ok {
		return nil, apierrors.NewNotFound(v1alpha1.Resource("throttlegroups"), name)
	}
	return o, nil
}

func (f *fakeTGs) Get(_ context.Context, ns, name string) (*v1alpha1.ThrottleGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, err := f.find(ns, name)
	if err != nil {
		return nil, err
	}
	return o.DeepCopy(), nil
}

func (f *fakeTGs) Create(_ context.Context, tg *v1alpha1.ThrottleGroup) (*v1alpha1.ThrottleGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing(); err != nil {
		return nil, err
	}
	k := tg.Namespace + "/" + tg.Name
	if _, ok := f.objs[k]; ok {
		return nil, apierrors.NewAlreadyExists(v1alpha1.Resource("throttlegroups"), tg.Name)
	}
	o := tg.DeepCopy()
	o.UID = types.UID(fmt.Sprintf("uid-%d", len(f.objs)+1))
	o.Generation = 1
	o.Status = v1alpha1.ThrottleGroupStatus{} // the status subresource drops it
	f.objs[k] = o
	f.creates++
	return o.DeepCopy(), nil
}

func (f *fakeTGs) Patch(_ context.Context, ns, name string, pt types.PatchType, data []byte, sub ...string) (*v1alpha1.ThrottleGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, err := f.find(ns, name)
	if err != nil {
		return nil, err
	}
	if pt != types.JSONPatchType || len(sub) != 1 || sub[0] != "status" {
		return nil, fmt.Errorf("unexpected patch %s %v", pt, sub)
	}
	var ops []struct {
		Op, Path string
		Value    json.RawMessage
	}
	if err := json.Unmarshal(data, &ops); err != nil {
		return nil, err
	}
	for _, op := range ops {
		switch {
		case op.Op == "test" && op.Path == "/metadata/uid":
			if string(op.Value) != `"`+string(o.UID)+`"` {
				return nil, apierrors.NewInvalid(v1alpha1.SchemeGroupVersion.WithKind("ThrottleGroup").GroupKind(), name, nil)
			}
		case op.Op == "add" && op.Path == "/status":
			var st v1alpha1.ThrottleGroupStatus
			if err := json.Unmarshal(op.Value, &st); err != nil {
				return nil, err
			}
			o.Status = st
		default:
			return nil, fmt.Errorf("unexpected op %+v", op)
		}
	}
	f.patches++
	return o.DeepCopy(), nil
}

func (f *fakeTGs) only(t *testing.T) *v1alpha1.ThrottleGroup {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.objs) != 1 {
		t.Fatalf("%d ThrottleGroups, want 1", len(f.objs))
	}
	for _, o := range f.objs {
		return o.DeepCopy()
	}
	return nil
}

const (
	testNode = "node-1"
	testUID  = "0b6c7a2e-1111-4222-8333-944455556666"
)

type sinkRig struct {
	sink   *Sink
	tgs    *fakeTGs
	rec    *record.FakeRecorder
	clock  *clocktesting.FakePassiveClock
	specs  *SpecStates
	st     throttle.GroupStatus
	totals uint64
}

func newSinkRig(t *testing.T, podUID string) *sinkRig {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "writer", Namespace: "team-a", UID: types.UID(podUID)}}
	r := &sinkRig{
		tgs:   newFakeTGs(),
		rec:   record.NewFakeRecorder(100),
		clock: clocktesting.NewFakePassiveClock(time.Unix(1_800_000_000, 0)),
		specs: NewSpecStates(),
		st: throttle.GroupStatus{
			Key: throttle.Key{VolumeID: "blkio-abc", PodUID: testUID},
			Spec: throttle.Spec{
				Device: throttle.Device{Major: 7, Minor: 3}, Limits: throttle.Limits{WriteBytesPerSecond: 20 << 20},
				Scope: throttle.ScopePod, Pod: throttle.PodRef{UID: testUID, Name: "writer", Namespace: "team-a"},
			},
			Phase: throttle.PhasePending, Incarnation: 1, BackendVersion: 1, Semantics: "per container",
			Cgroups:   []string{"/cg/blkio/kubepods/pod" + testUID, "/cg/blkio/kubepods/pod" + testUID + "/ctr"},
			Placement: "on pod cgroup",
			Stats:     throttle.Stats{Pending: true},
		},
	}
	s, err := NewSink(SinkOptions{
		Node: testNode, Kube: clientsetCore{fake.NewClientset(pod)}, ThrottleGroups: r.tgs, Recorder: r.rec,
		Hierarchy: "/cg/blkio", Specs: r.specs, Clock: r.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.sink = s
	return r
}

// step advances the clock by the stats interval and observes a sample at
// the given write rate, as the worker would.
func (r *sinkRig) step(t *testing.T, rate float64) {
	t.Helper()
	const interval = 10 * time.Second
	r.clock.SetTime(r.clock.Now().Add(interval))
	r.totals += uint64(rate * interval.Seconds())
	r.st.Phase = throttle.PhaseActive
	r.st.Stats = throttle.Stats{SampledAt: r.clock.Now(), WriteBytes: r.totals, WriteBytesPerSecond: rate}
	if err := r.sink.Observe(context.Background(), r.st); err != nil {
		t.Fatalf("Observe: %v", err)
	}
}

func (r *sinkRig) events() []string {
	var out []string
	for {
		select {
		case e := <-r.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// TestSinkSteadyStateWrites drives the sink with ten minutes of samples at
// the default 10 s interval and counts status writes: a writer held at its
// limit (rates within a few percent) and one alternating between 10% and
// 100% of it (every sample a big change) both stay within one write per
// minute after the first minute.
func TestSinkSteadyStateWrites(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     func(i int) float64
		min, max int // writes in minutes 2..10 (54 samples)
	}{
		{"held at the limit", func(i int) float64 { return float64(20<<20) * (0.97 + 0.01*float64(i%4)) }, 1, 2},
		{"alternating", func(i int) float64 {
			if i%2 == 0 {
				return 2 << 20
			}
			return 20 << 20
		}, 6, 9},
		{"idle", func(int) float64 { return 0 }, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSinkRig(t, testUID)
			for i := range 6 {
				r.step(t, tc.rate(i))
			}
			before := r.tgs.patches
			for i := 6; i < 60; i++ {
				r.step(t, tc.rate(i))
			}
			writes := r.tgs.patches - before
			t.Logf("%s: %d status writes in 9 minutes (%.2f per minute); %d in the first minute", tc.name, writes, float64(writes)/9, before)
			if writes < tc.min || writes > tc.max {
				t.Errorf("%d status writes in 9 minutes, want %d..%d", writes, tc.min, tc.max)
			}
			if r.tgs.creates != 1 {
				t.Errorf("%d creates, want 1", r.tgs.creates)
			}
		})
	}
}

func TestSinkCreatesOwnedLabelledObject(t *testing.T) {
	r := newSinkRig(t, testUID)
	if err := r.sink.Observe(context.Background(), r.st); err != nil { // pending: object + first status
		t.Fatal(err)
	}
	r.step(t, 0)
	r.step(t, 1<<20)
	o := r.tgs.only(t)
	if o.Labels[LabelNode] != testNode || o.Namespace != "team-a" || o.Spec.NodeName != testNode || o.Spec.VolumeID != "blkio-abc" {
		t.Errorf("object %s/%s labels %v spec %+v", o.Namespace, o.Name, o.Labels, o.Spec)
	}
	if len(o.OwnerReferences) != 1 || o.OwnerReferences[0].Kind != "Pod" || o.OwnerReferences[0].UID != testUID {
		t.Errorf("owner references %+v, want the pod", o.OwnerReferences)
	}
	if got := o.Spec.Limits.WriteBytesPerSecond.String(); got != "20Mi" {
		t.Errorf("spec.limits.writeBytesPerSecond = %s, want 20Mi", got)
	}
	s := o.Status
	if s.Phase != v1alpha1.PhaseActive || s.Rates == nil || s.Rates.WriteBytesPerSecond != 1<<20 || s.Totals == nil || s.SaturationPercent != 5 {
		t.Errorf("status %+v rates %+v", s, s.Rates)
	}
	if strings.Join(s.Cgroups, ",") != "/kubepods/pod"+testUID+",/kubepods/pod"+testUID+"/ctr" {
		t.Errorf("cgroups %v, want them relative to the hierarchy", s.Cgroups)
	}
	if s.ObservedGeneration != 1 {
		t.Errorf("observedGeneration %d, want 1 (created with the limits in force)", s.ObservedGeneration)
	}
	if c := meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionLimitsApplied); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("LimitsApplied condition %+v", c)
	}
}

// TestSinkEvents: LimitsApplied once, Saturated once per episode,
// PlacementDegraded and StatsFailing when they start.
func TestSinkEvents(t *testing.T) {
	r := newSinkRig(t, testUID)
	limit := float64(20 << 20)
	for range 3 {
		r.step(t, 0.1*limit)
	}
	ev := r.events()
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal LimitsApplied Volume blkio-abc: write 20Mi/s in force on 2 cgroup(s)") {
		t.Fatalf("events after becoming Active: %q", ev)
	}
	for range 6 { // the first 3 samples >= 90% start an episode, the rest continue it
		r.step(t, 0.99*limit)
	}
	ev = r.events()
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal Saturated Volume blkio-abc: writeBytesPerSecond at 99% of its limit for 3 samples") {
		t.Fatalf("events of one saturation episode: %q", ev)
	}
	for range 6 { // the condition goes out with the numbers, within a minute
		r.step(t, 0.99*limit)
	}
	if c := meta.FindStatusCondition(r.tgs.only(t).Status.Conditions, v1alpha1.ConditionSaturated); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Saturated condition during the episode: %+v", c)
	}
	if ev = r.events(); len(ev) != 0 {
		t.Fatalf("events later in the same episode: %q", ev)
	}
	r.st.Phase = throttle.PhaseDegraded
	r.st.Placement = "pod cgroup not found"
	r.st.Conditions = []throttle.Condition{{Type: throttle.ConditionStatsFailing, Reason: "RetriesExhausted", Message: "read failed"}}
	r.clock.SetTime(r.clock.Now().Add(10 * time.Second))
	r.st.Stats.SampledAt = r.clock.Now()
	if err := r.sink.Observe(context.Background(), r.st); err != nil {
		t.Fatal(err)
	}
	ev = r.events()
	if len(ev) != 2 || !strings.HasPrefix(ev[0], "Warning PlacementDegraded Volume blkio-abc: pod cgroup not found") ||
		!strings.HasPrefix(ev[1], "Warning StatsFailing Volume blkio-abc: read failed") {
		t.Fatalf("events when degraded and failing: %q", ev)
	}
	st := r.tgs.only(t).Status // prompt: phase and conditions changed
	if st.Phase != v1alpha1.PhaseDegraded || !meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionStatsFailing) {
		t.Errorf("status not written at once: phase %s conditions %+v", st.Phase, st.Conditions)
	}
	if err := r.sink.Observe(context.Background(), r.st); err != nil { // same again: no repeat
		t.Fatal(err)
	}
	if ev = r.events(); len(ev) != 0 {
		t.Errorf("repeated events: %q", ev)
	}
}

func TestSinkWithoutLivePodCreatesNothing(t *testing.T) {
	for _, tc := range []struct{ name, podUID string }{
		{"pod re-created under the same name", "ffffffff-0000-4000-8000-000000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSinkRig(t, tc.podUID)
			r.step(t, 0)
			r.step(t, 0)
			if r.tgs.creates != 0 {
				t.Errorf("%d ThrottleGroups created for a pod that is gone", r.tgs.creates)
			}
		})
	}
	t.Run("no pod information", func(t *testing.T) {
		r := newSinkRig(t, testUID)
		r.st.Key.PodUID, r.st.Spec.Pod = "", throttle.PodRef{}
		r.step(t, 1<<20)
		if r.tgs.creates != 0 || len(r.events()) != 0 {
			t.Errorf("a group without a pod got %d objects and events", r.tgs.creates)
		}
	})
}

// TestSinkRecreatesDeletedObjectAndAdoptsExisting: a status patch that finds
// the object gone is an error (the worker retries) and the retry creates it
// again; a new sink (a restarted plugin) adopts the existing object without
// rewriting an unchanged status.
func TestSinkRecreatesDeletedObjectAndAdoptsExisting(t *testing.T) {
	r := newSinkRig(t, testUID)
	r.step(t, 0)
	name := r.tgs.only(t).Name
	r.tgs.mu.Lock()
	delete(r.tgs.objs, "team-a/"+name)
	r.tgs.mu.Unlock()
	r.st.Phase = throttle.PhaseDegraded // a change that must be written
	if err := r.sink.Observe(context.Background(), r.st); err == nil {
		t.Fatal("Observe of a deleted object succeeded")
	}
	if err := r.sink.Observe(context.Background(), r.st); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if r.tgs.creates != 2 || r.tgs.only(t).Status.Phase != v1alpha1.PhaseDegraded {
		t.Fatalf("creates %d, status %+v", r.tgs.creates, r.tgs.only(t).Status)
	}

	restarted, err := NewSink(r.sink.o)
	if err != nil {
		t.Fatal(err)
	}
	patches := r.tgs.patches
	if err := restarted.Observe(context.Background(), r.st); err != nil {
		t.Fatal(err)
	}
	if r.tgs.creates != 2 || r.tgs.patches != patches {
		t.Errorf("restarted sink: %d creates, %d new patches; want to adopt without writes", r.tgs.creates, r.tgs.patches-patches)
	}
	r.tgs.fail = apierrors.NewServiceUnavailable("apiserver down")
	r.st.Phase = throttle.PhaseActive
	if err := restarted.Observe(context.Background(), r.st); err == nil {
		t.Error("a failed status patch was not reported to the worker")
	}
}
