package kube

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestWriteBudgetPriorities: from a full bucket of 20, numbers stop at 10
// tokens left, new objects at 5, changes at 0; tokens come back at the
// rate, and the wait says when.
func TestWriteBudgetPriorities(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_800_000_000, 0))
	deferred := map[string]int{}
	b := NewWriteBudget(BudgetOptions{PerSecond: 0.5, Burst: 20, Clock: clk, OnDefer: func(k string) { deferred[k]++ }})
	take := func(p Priority) int {
		n := 0
		for {
			ok, _ := b.Take("status", p)
			if !ok {
				return n
			}
			n++
		}
	}
	if n := take(PriorityNumbers); n != 10 {
		t.Errorf("numbers took %d tokens of 20, want 10", n)
	}
	if n := take(PriorityNew); n != 5 {
		t.Errorf("new objects took %d more, want 5", n)
	}
	if n := take(PriorityChange); n != 5 {
		t.Errorf("changes took %d more, want the last 5", n)
	}
	ok, wait := b.Take("status", PriorityChange)
	if ok || wait != 2*time.Second {
		t.Errorf("empty bucket: ok %v wait %v, want refused and 2s (one token at 0.5/s)", ok, wait)
	}
	clk.SetTime(clk.Now().Add(wait))
	if ok, _ := b.Take("status", PriorityChange); !ok {
		t.Errorf("a change was refused after the wait")
	}
	if deferred["status"] != 4 {
		t.Errorf("deferred %v, want 4 status writes (one refusal per priority)", deferred)
	}
	var nilBudget *WriteBudget
	if ok, _ := nilBudget.Take("event", PriorityNumbers); !ok {
		t.Error("a nil budget refused a write")
	}
}

// countingRecorder counts the Events that reach it (after the budget).
type countingRecorder struct{ n int }

func (r *countingRecorder) Event(runtime.Object, string, string, string)          { r.n++ }
func (r *countingRecorder) Eventf(runtime.Object, string, string, string, ...any) { r.n++ }
func (r *countingRecorder) AnnotatedEventf(runtime.Object, map[string]string, string, string, string, ...any) {
	r.n++
}

var _ record.EventRecorder = (*countingRecorder)(nil)

// TestSinkBudgetWith500BurstyGroups drives one node's sink with 500 groups
// whose rates jump between 0 and their limit at every 10 s sample, for 30
// minutes, on the production budget. Every write the apiserver would get —
// creates, status patches, Events — fits in burst + rate x time; then one
// group's phase changes and its status shows it within seconds (the worker's
// requeue is played by the test).
func TestSinkBudgetWith500BurstyGroups(t *testing.T) {
	const groups, interval, run = 500, 10 * time.Second, 30 * time.Minute
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_800_000_000, 0))
	deferred := map[string]int{}
	budget := NewWriteBudget(BudgetOptions{Clock: clk, OnDefer: func(k string) { deferred[k]++ }})
	var pods []runtime.Object
	var sts []throttle.GroupStatus
	for i := range groups {
		uid := fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
		name := fmt.Sprintf("burst-%03d", i)
		pods = append(pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", UID: types.UID(uid)}})
		sts = append(sts, throttle.GroupStatus{
			Key: throttle.Key{VolumeID: fmt.Sprintf("blkio-%03d", i), PodUID: uid},
			Spec: throttle.Spec{Device: throttle.Device{Major: 7, Minor: uint32(i)}, Limits: throttle.Limits{WriteBytesPerSecond: 8 << 20},
				Scope: throttle.ScopePod, Pod: throttle.PodRef{UID: uid, Name: name, Namespace: "team-a"}},
			Phase: throttle.PhaseActive, Incarnation: 1, BackendVersion: 1, Semantics: "per container",
			Cgroups: []string{"/cg/blkio/kubepods/pod" + uid}, Placement: "on pod cgroup",
		})
	}
	tgs := newFakeTGs()
	events := &countingRecorder{}
	var requeued []time.Duration
	s, err := NewSink(SinkOptions{
		Node: testNode, Kube: clientsetCore{fake.NewClientset(pods...)}, ThrottleGroups: tgs, Recorder: BudgetRecorder(events, budget),
		Hierarchy: "/cg/blkio", Specs: NewSpecStates(), Clock: clk, Budget: budget,
		Requeue: func(_ throttle.Key, d time.Duration) { requeued = append(requeued, d) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := clk.Now()
	totals := make([]uint64, groups)
	for sweep := 0; clk.Now().Sub(start) < run; sweep++ {
		clk.SetTime(clk.Now().Add(interval))
		for i := range sts {
			rate := 0.0
			if (sweep+i)%2 == 0 {
				rate = 8 << 20
			}
			totals[i] += uint64(rate * interval.Seconds())
			sts[i].Stats = throttle.Stats{SampledAt: clk.Now(), WriteBytes: totals[i], WriteBytesPerSecond: rate}
			if err := s.Observe(ctx, sts[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	elapsed := clk.Now().Sub(start)
	writes := tgs.creates + tgs.patches + events.n
	allowed := DefaultBudgetBurst + int(DefaultBudgetPerSecond*elapsed.Seconds())
	t.Logf("%d groups, %v: %d creates, %d status patches, %d Events = %d writes (%.3f/s; budget %d); deferred %v",
		groups, elapsed, tgs.creates, tgs.patches, events.n, writes, float64(writes)/elapsed.Seconds(), allowed, deferred)
	if writes > allowed {
		t.Errorf("%d writes in %v, budget allows %d", writes, elapsed, allowed)
	}
	if tgs.creates == 0 || tgs.patches == 0 {
		t.Fatalf("nothing written (%d creates, %d patches)", tgs.creates, tgs.patches)
	}

	// A group with an object changes phase: written at once or, when the
	// bucket is empty, at the requeue the sink asks for — within seconds.
	var g int
	for g = range sts {
		if o := tgs.objs["team-a/"+ObjectName(sts[g].Spec.Pod.Name, sts[g].Key)]; o != nil && o.Status.Phase == "Active" {
			break
		}
	}
	// Drain the bucket, so that the change must wait for its token.
	for {
		if ok, _ := budget.Take("drain", PriorityChange); !ok {
			break
		}
	}
	sts[g].Phase = throttle.PhaseDegraded
	changed := clk.Now()
	requeued = nil
	for range 10 {
		if err := s.Observe(ctx, sts[g]); err != nil {
			t.Fatal(err)
		}
		if tgs.objs["team-a/"+ObjectName(sts[g].Spec.Pod.Name, sts[g].Key)].Status.Phase == "Degraded" {
			break
		}
		if len(requeued) == 0 {
			t.Fatal("a deferred phase change asked for no requeue")
		}
		clk.SetTime(clk.Now().Add(requeued[len(requeued)-1]))
	}
	took := clk.Now().Sub(changed)
	t.Logf("phase change of group %d reached the status %v after it happened", g, took)
	if got := tgs.objs["team-a/"+ObjectName(sts[g].Spec.Pod.Name, sts[g].Key)].Status.Phase; got != "Degraded" || took == 0 || took > 10*time.Second {
		t.Errorf("status phase %s %v after the change, want Degraded within 10 s", got, took)
	}
}
