package throttle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

func TestRaise(t *testing.T) {
	l := Limits{WriteBytesPerSecond: 8 << 20, ReadIOPS: 100}
	got := Raise(l, Limits{WriteBytesPerSecond: 40 << 20, ReadBytesPerSecond: 1 << 30, ReadIOPS: 50})
	want := Limits{WriteBytesPerSecond: 40 << 20, ReadIOPS: 100}
	if got != want {
		t.Errorf("Raise = %v, want %v (an unlimited knob stays unlimited, a lower boost changes nothing)", got, want)
	}
}

func TestSetBoostRaisesTheKernelNotTheSpec(t *testing.T) {
	fx := newFixture(t, 2)
	pod := fx.pod(t, testUID)
	key, spec := podSpec(testUID, Limits{WriteBytesPerSecond: 8 << 20}, ScopePod)
	ensure(t, fx.table, key, spec)
	st, _ := fx.table.Get(key)
	notified := fx.notes.count(key)
	state := &BurstState{Seconds: 5, Buckets: []Bucket{{Knob: "writeBytesPerSecond", Baseline: 8 << 20, Rate: 40 << 20, Bursting: true, Full: true}}}
	if err := fx.table.SetBoost(key, st.Incarnation, Limits{WriteBytesPerSecond: 40 << 20}, state); err != nil {
		t.Fatal(err)
	}
	wantLines(t, pod, "io.max", "7:256 rbps=max wbps=41943040 riops=max wiops=max")
	st, _ = fx.table.Get(key)
	if st.Spec.Limits.WriteBytesPerSecond != 8<<20 || st.KernelLimits().WriteBytesPerSecond != 40<<20 || st.Burst != state {
		t.Errorf("status spec %v, kernel %v, burst %v: want the baseline in the spec, the burst in the kernel", st.Spec.Limits, st.KernelLimits(), st.Burst)
	}
	if fx.notes.count(key) != notified+1 {
		t.Errorf("a boost change notified %d times, want once", fx.notes.count(key)-notified)
	}
	// The same boost and bucket ends again: nothing written, nobody told.
	same := *state
	same.Buckets = []Bucket{state.Buckets[0]}
	same.Buckets[0].Balance = 1
	if err := fx.table.SetBoost(key, st.Incarnation, Limits{WriteBytesPerSecond: 40 << 20}, &same); err != nil {
		t.Fatal(err)
	}
	if fx.notes.count(key) != notified+1 {
		t.Errorf("an unchanged boost notified again")
	}
	// A re-publish with the same baseline changes nothing: the burst stays.
	ensure(t, fx.table, key, spec)
	wantLines(t, pod, "io.max", "7:256 rbps=max wbps=41943040 riops=max wiops=max")
	// A new baseline (a live edit, an expansion) is raised by the boost too.
	if err := fx.table.Update(context.Background(), key, Limits{WriteBytesPerSecond: 4 << 20, WriteIOPS: 100}); err != nil {
		t.Fatal(err)
	}
	wantLines(t, pod, "io.max", "7:256 rbps=max wbps=41943040 riops=max wiops=100")
	if err := fx.table.SetBoost(key, st.Incarnation, Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	wantLines(t, pod, "io.max", "7:256 rbps=max wbps=4194304 riops=max wiops=100")
	if err := fx.table.SetBoost(key, st.Incarnation+1, Limits{}, nil); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("SetBoost for another incarnation = %v, want ErrGroupNotFound", err)
	}
}

func TestBoostReachesNewContainersOnV1(t *testing.T) {
	fx := newFixture(t, 1)
	pod := fx.pod(t, testUID)
	key, spec := podSpec(testUID, Limits{WriteIOPS: 100}, ScopePod)
	ensure(t, fx.table, key, spec)
	st, _ := fx.table.Get(key)
	if err := fx.table.SetBoost(key, st.Incarnation, Limits{WriteIOPS: 3000}, nil); err != nil {
		t.Fatal(err)
	}
	ctr := fx.container(t, testUID, "ctr")
	testutil.Eventually(t, 5*time.Second, "the container's entry", func() (bool, string) { return file(t, ctr, string(V1WriteIOPS)) != "", "" })
	wantLines(t, ctr, string(V1WriteIOPS), "7:256 3000")
	wantLines(t, pod, string(V1WriteIOPS), "7:256 3000")
}
