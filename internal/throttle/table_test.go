package throttle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

var limit8M = Limits{WriteBytesPerSecond: 8 << 20}

// Invariant 1: a group owns the kernel entries that enforce it — one on
// v2, one per container cgroup (and the pod cgroup) on v1 — and lifts them
// when removed.
func TestInvariant1_GroupOwnsItsEntries(t *testing.T) {
	t.Run("v1", func(t *testing.T) {
		fx := newFixture(t, 1)
		pod := fx.pod(t, testUID)
		ctr := fx.container(t, testUID, "ctr1")
		k, s := podSpec(testUID, limit8M, ScopePod)
		ensure(t, fx.table, k, s)
		st, _ := fx.table.Get(k)
		if want := []string{pod, ctr}; strings.Join(st.Cgroups, ",") != strings.Join(want, ",") {
			t.Errorf("Cgroups = %q, want %q", st.Cgroups, want)
		}
		if err := fx.table.Remove(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{pod, ctr} {
			wantLines(t, d, string(V1WriteBPS))
		}
		if _, ok := fx.table.Get(k); ok {
			t.Error("the group is still in the table after Remove")
		}
	})
	t.Run("v2", func(t *testing.T) {
		fx := newFixture(t, 2)
		pod := fx.pod(t, testUID)
		k, s := podSpec(testUID, limit8M, ScopePod)
		ensure(t, fx.table, k, s)
		st, _ := fx.table.Get(k)
		if len(st.Cgroups) != 1 || st.Cgroups[0] != pod || st.StatsCgroup != pod || st.BackendVersion != 2 {
			t.Errorf("status = %+v; want one entry on %s", st, pod)
		}
		if err := fx.table.Remove(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		wantLines(t, pod, "io.max")
	})
}

// Shared entries (volume scope's root-level line on v1, kubepods on v2)
// are reference-counted: removing one group keeps the limit the other
// still needs, and the strictest limit of the holders is in force.
func TestInvariant1_SharedEntryIsRefcounted(t *testing.T) {
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			fx, shared, file, line := sharedEntryFixture(t, v)
			k1, s1 := podSpec(testUID, limit8M, ScopeVolume)
			k2, s2 := podSpec(otherUID, Limits{WriteBytesPerSecond: 4 << 20}, ScopeVolume)
			ensure(t, fx.table, k1, s1)
			ensure(t, fx.table, k2, s2)
			wantLines(t, shared, file, line(4<<20)) // the strictest holder wins
			if err := fx.table.Remove(context.Background(), k2); err != nil {
				t.Fatal(err)
			}
			wantLines(t, shared, file, line(8<<20)) // k1 still needs its limit
			if err := fx.table.Remove(context.Background(), k1); err != nil {
				t.Fatal(err)
			}
			wantLines(t, shared, file)
		})
	}
}

// blockingBackend blocks WriteLimits on directories containing block until
// release is closed, and can fail writes to directories containing fail.
type blockingBackend struct {
	Backend
	block   string
	entered chan struct{}
	release chan struct{}
	fail    string
}

func (b *blockingBackend) WriteLimits(dir string, dev Device, l Limits) error {
	if b.fail != "" && strings.Contains(dir, b.fail) {
		return &pathErr{dir}
	}
	if b.block != "" && strings.Contains(dir, b.block) {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.Backend.WriteLimits(dir, dev, l)
}

type pathErr struct{ dir string }

func (e *pathErr) Error() string { return "write " + e.dir + ": input/output error" }
func (e *pathErr) Unwrap() error { return syscall.EIO }

// Invariant 2: creating or finding a group never waits on another group's
// slow work, and the table lock is not held across IO.
func TestInvariant2_EnsureDoesNotWaitOnAnotherGroupsIO(t *testing.T) {
	slowUID := "00000000-0000-4000-8000-00000000000a"
	bb := &blockingBackend{block: slowUID, entered: make(chan struct{}), release: make(chan struct{})}
	fx := newFixture(t, 1, func(o *Options) { bb.Backend = o.Backend; o.Backend = bb })
	fx.pod(t, slowUID)
	fx.pod(t, testUID)
	kSlow, sSlow := podSpec(slowUID, limit8M, ScopePod)
	done := make(chan error)
	go func() { _, err := fx.table.Ensure(context.Background(), kSlow, sSlow); done <- err }()
	<-bb.entered // the slow group is inside its kernel write

	k, s := podSpec(testUID, limit8M, ScopePod)
	start := time.Now()
	ensure(t, fx.table, k, s)
	if st, ok := fx.table.Get(kSlow); !ok || st.Phase != PhasePending {
		t.Errorf("Get of the group being placed = %+v, %v; want it Pending", st.Phase, ok)
	}
	if n := len(fx.table.Keys()); n != 2 {
		t.Errorf("Keys() = %d keys, want 2", n)
	}
	if err := fx.table.Remove(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("another group's Ensure/Get/Remove took %v while one group's write was stuck", d)
	}
	select {
	case err := <-done:
		t.Fatalf("the stuck Ensure returned early: %v", err)
	default:
	}
	close(bb.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Invariant 3: every cgroup that exists when Ensure runs has the limits when
// it returns: on v1 the pod cgroup and each container cgroup.
func TestInvariant3_LimitsInKernelBeforeEnsureReturns(t *testing.T) {
	t.Run("v1", func(t *testing.T) {
		fx := newFixture(t, 1, func(o *Options) { o.NewWatcher = lostEvents })
		pod := fx.pod(t, testUID)
		c1 := fx.container(t, testUID, "sandbox")
		c2 := fx.container(t, testUID, "ctr")
		k, s := podSpec(testUID, Limits{WriteBytesPerSecond: 10485760, ReadIOPS: 100}, ScopePod)
		ensure(t, fx.table, k, s)
		for _, d := range []string{pod, c1, c2} {
			wantLines(t, d, string(V1WriteBPS), "7:256 10485760")
			wantLines(t, d, string(V1ReadIOPS), "7:256 100")
		}
		wantLines(t, fx.fake.Root, string(V1WriteBPS)) // pod scope: no root-level entry
	})
	t.Run("v1 volume scope adds the root-level entry", func(t *testing.T) {
		fx := newFixture(t, 1)
		pod := fx.pod(t, testUID)
		k, s := podSpec(testUID, limit8M, ScopeVolume)
		ensure(t, fx.table, k, s)
		wantLines(t, pod, string(V1WriteBPS), "7:256 8388608")
		wantLines(t, fx.fake.Root, string(V1WriteBPS), "7:256 8388608")
		if st, _ := fx.table.Get(k); st.StatsCgroup != fx.fake.Root {
			t.Errorf("volume scope stats from %s, want the root", st.StatsCgroup)
		}
	})
	t.Run("v2", func(t *testing.T) {
		fx := newFixture(t, 2)
		pod := fx.pod(t, testUID)
		k, s := podSpec(testUID, limit8M, ScopePod)
		ensure(t, fx.table, k, s)
		wantLines(t, pod, "io.max", "7:256 rbps=max wbps=8388608 riops=max wiops=max")
		wantLines(t, fx.fake.Path("kroot/kubepods"), "io.max")
	})
	t.Run("v2 volume scope on kubepods without a pod", func(t *testing.T) {
		fx := newFixture(t, 2)
		k, s := podSpec(testUID, limit8M, ScopeVolume) // no pod cgroup: not needed on v2
		if ph := ensure(t, fx.table, k, s); ph != PhasePending {
			t.Errorf("phase %s, want Pending", ph)
		}
		wantLines(t, fx.fake.Path("kroot/kubepods"), "io.max", "7:256 rbps=max wbps=8388608 riops=max wiops=max")
	})
}

// Invariant 3: a container cgroup created after Ensure returned gets the
// limits from the watcher (inotify on the pod cgroup), and the worker is
// told to sync the key.
func TestInvariant3_NewContainerGetsLimitsFromWatcher(t *testing.T) {
	fx := newFixture(t, 1)
	fx.pod(t, testUID)
	k, s := podSpec(testUID, limit8M, ScopePod)
	ensure(t, fx.table, k, s)
	before := fx.notes.count(k)
	ctr := fx.container(t, testUID, "ctr")
	testutil.Eventually(t, 5*time.Second, "the container's limit", func() (bool, string) {
		return strings.TrimSpace(file(t, ctr, string(V1WriteBPS))) == "7:256 8388608", ""
	})
	testutil.Eventually(t, 5*time.Second, "a notification", func() (bool, string) { return fx.notes.count(k) > before, "" })
	testutil.Eventually(t, 5*time.Second, "the container in the status", func() (bool, string) {
		st, _ := fx.table.Get(k)
		return strings.Contains(strings.Join(st.Cgroups, ","), ctr), ""
	})
	// The container goes away: the group forgets its entry.
	fx.fake.Rmdir(t, "kroot/kubepods/burstable/pod"+testUID+"/ctr")
	testutil.Eventually(t, 5*time.Second, "the container gone from the status", func() (bool, string) {
		st, _ := fx.table.Get(k)
		return !strings.Contains(strings.Join(st.Cgroups, ","), ctr), ""
	})
}

// noWatcher loses every event, as an overflowed inotify queue would. Its
// Watch fails as inotify's does on a path that is not a directory.
type noWatcher struct{}

func (noWatcher) Watch(dir string, _ Key) error {
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		err = syscall.ENOTDIR
	}
	return err
}
func (noWatcher) Unwatch(string, Key) {}
func (noWatcher) Close() error        { return nil }

func lostEvents(WatchHandler) (ChildWatcher, error) { return noWatcher{}, nil }

// reconcileN runs n of the worker's Reconcile passes over k.
func reconcileN(t *testing.T, tb *Table, k Key, n int) {
	t.Helper()
	for range n {
		if err := tb.Reconcile(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
}

// missedContainer places a group whose watcher loses every event and
// creates a container cgroup below its pod.
func missedContainer(t *testing.T) (*fixture, Key, string) {
	t.Helper()
	fx := newFixture(t, 1, func(o *Options) { o.NewWatcher = lostEvents })
	fx.pod(t, testUID)
	k, s := podSpec(testUID, limit8M, ScopePod)
	ensure(t, fx.table, k, s)
	ctr := fx.container(t, testUID, "ctr")
	return fx, k, ctr
}

// Invariant 3, belt and braces: a container the watcher missed gets its
// limits from the worker's reconcile pass — the one in DefaultRescanEvery
// that lists the pod cgroup, not the ones before it, which only read stats.
func TestInvariant3_ReconcilePlacesMissedContainer(t *testing.T) {
	fx, k, ctr := missedContainer(t)
	reconcileN(t, fx.table, k, DefaultRescanEvery-1)
	wantLines(t, ctr, string(V1WriteBPS))
	reconcileN(t, fx.table, k, 1)
	wantLines(t, ctr, string(V1WriteBPS), "7:256 8388608")
	fx.fake.Rmdir(t, "kroot/kubepods/burstable/pod"+testUID+"/ctr")
	reconcileN(t, fx.table, k, DefaultRescanEvery)
	if st, _ := fx.table.Get(k); len(st.Cgroups) != 1 {
		t.Errorf("after the container left, Cgroups = %q; want only the pod", st.Cgroups)
	}
}

// An inotify overflow has the very next pass list the children.
func TestOverflowHasTheNextReconcileList(t *testing.T) {
	fx, k, ctr := missedContainer(t)
	watchHandler{fx.table}.Overflow([]Key{k})
	reconcileN(t, fx.table, k, 1)
	wantLines(t, ctr, string(V1WriteBPS), "7:256 8388608")
}

// Invariant 3: without a pod cgroup the volume-scope fallback goes in
// (Degraded); the worker's retry promotes the group when the pod appears.
func TestInvariant3_DegradedFallbackAndPromotion(t *testing.T) {
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			fx := newFixture(t, v, func(o *Options) { o.AcceptUnheldV1 = true })
			fallback, name, line := fx.fake.Root, string(V1WriteBPS), "7:256 8388608"
			podLine := line
			if v == 2 {
				fallback, name, line = fx.fake.Path("kroot/kubepods"), "io.max", "7:256 rbps=max wbps=8388608 riops=max wiops=max"
				podLine = line
			}
			k, s := podSpec(testUID, limit8M, ScopePod)
			if ph := ensure(t, fx.table, k, s); ph != PhaseDegraded {
				t.Fatalf("phase %s, want Degraded", ph)
			}
			wantLines(t, fallback, name, line)
			st, _ := fx.table.Get(k)
			if !strings.Contains(st.Placement, "no cgroup for pod") || !strings.Contains(st.Semantics, "degraded") {
				t.Errorf("status does not say why: %q / %q", st.Placement, st.Semantics)
			}
			if err := fx.table.Reconcile(context.Background(), k); err != nil {
				t.Fatal(err)
			}
			if st, _ := fx.table.Get(k); st.Phase != PhaseDegraded {
				t.Errorf("phase %s without the pod, want Degraded", st.Phase)
			}
			pod := fx.pod(t, testUID)
			if err := fx.table.Reconcile(context.Background(), k); err != nil {
				t.Fatal(err)
			}
			st, _ = fx.table.Get(k)
			if st.Phase == PhaseDegraded || st.PodCgroup != pod {
				t.Fatalf("after the pod appeared: phase %s pod %q", st.Phase, st.PodCgroup)
			}
			wantLines(t, pod, name, podLine)
			wantLines(t, fallback, name) // the fallback is lifted
		})
	}
	t.Run("empty pod UID", func(t *testing.T) {
		fx := newFixture(t, 1)
		k, s := podSpec("", limit8M, ScopePod)
		if ph := ensure(t, fx.table, k, s); ph != PhaseDegraded {
			t.Fatalf("phase %s, want Degraded", ph)
		}
		wantLines(t, fx.fake.Root, string(V1WriteBPS), "7:256 8388608")
	})
}

// A write that fails leaves nothing behind: Ensure fails, the group is
// not in the table and the entries it had placed are lifted.
func TestEnsureWriteFailureLeavesNothing(t *testing.T) {
	bb := &blockingBackend{fail: "/ctr"}
	fx := newFixture(t, 1, func(o *Options) { bb.Backend = o.Backend; o.Backend = bb })
	pod := fx.pod(t, testUID)
	fx.container(t, testUID, "ctr")
	k, s := podSpec(testUID, limit8M, ScopePod)
	_, err := fx.table.Ensure(context.Background(), k, s)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("Ensure = %v; want the write error", err)
	}
	if _, ok := fx.table.Get(k); ok {
		t.Error("a group that failed to place is in the table")
	}
	wantLines(t, pod, string(V1WriteBPS))
}

// Invariant 4: until the worker installs a sample, readers see zeros marked
// pending, and the phase is Pending.
func TestInvariant4_StatsPendingUntilSampled(t *testing.T) {
	fx := newFixture(t, 1)
	fx.pod(t, testUID)
	k, s := podSpec(testUID, limit8M, ScopePod)
	if ph := ensure(t, fx.table, k, s); ph != PhasePending {
		t.Errorf("phase %s, want Pending", ph)
	}
	st, _ := fx.table.Get(k)
	if st.Stats != (Stats{Pending: true}) || st.Phase != PhasePending {
		t.Errorf("stats before a sample = %+v phase %s; want zeros, pending", st.Stats, st.Phase)
	}
	if !fx.table.InstallStats(k, st.Incarnation, Stats{WriteBytes: 10, Pending: true}) {
		t.Fatal("InstallStats refused the current incarnation")
	}
	st, _ = fx.table.Get(k)
	if st.Stats.Pending || st.Stats.WriteBytes != 10 || st.Phase != PhaseActive {
		t.Errorf("after a sample: %+v phase %s; want it installed, Active", st.Stats, st.Phase)
	}
}

// Invariant 7: a sample taken for an older incarnation is not installed.
func TestInvariant7_StaleResultDiscarded(t *testing.T) {
	fx := newFixture(t, 1)
	fx.pod(t, testUID)
	k, s := podSpec(testUID, limit8M, ScopePod)
	ensure(t, fx.table, k, s)
	_, oldInc, err := fx.table.ReadCounters(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.table.Remove(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	ensure(t, fx.table, k, s)
	if fx.table.InstallStats(k, oldInc, Stats{WriteBytes: 99}) {
		t.Fatal("a sample of the old incarnation was installed")
	}
	st, _ := fx.table.Get(k)
	if st.Incarnation == oldInc || !st.Stats.Pending || st.Stats.WriteBytes != 0 {
		t.Errorf("status %+v (incarnation %d, old %d); want the new incarnation, pending", st.Stats, st.Incarnation, oldInc)
	}
	if fx.table.SetCondition(k, oldInc, Condition{Type: ConditionStatsFailing}, true) {
		t.Error("a condition for the old incarnation was set")
	}
}

// Invariant 8 (table side): work for a removed group finds it gone.
func TestInvariant8_WorkOnRemovedGroupFindsItGone(t *testing.T) {
	fx := newFixture(t, 1)
	fx.pod(t, testUID)
	k, s := podSpec(testUID, limit8M, ScopePod)
	ensure(t, fx.table, k, s)
	if err := fx.table.Remove(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if err := fx.table.Reconcile(context.Background(), k); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("Reconcile after Remove = %v, want ErrGroupNotFound", err)
	}
	if _, _, err := fx.table.ReadCounters(k); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("ReadCounters after Remove = %v, want ErrGroupNotFound", err)
	}
	if err := fx.table.Update(context.Background(), k, Limits{}); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("Update after Remove = %v, want ErrGroupNotFound", err)
	}
	if err := fx.table.Remove(context.Background(), k); err != nil {
		t.Errorf("a second Remove = %v, want success", err)
	}
}

// Invariant 9: readers tolerate a group without stats, and what they get
// is a copy.
func TestInvariant9_ReadersTolerateMissingStats(t *testing.T) {
	fx := newFixture(t, 1)
	pod := fx.pod(t, testUID)
	k, s := podSpec(testUID, limit8M, ScopePod)
	ensure(t, fx.table, k, s)
	st, ok := fx.table.Get(k)
	if !ok || !st.Stats.Pending || st.HasCondition(ConditionStatsFailing) {
		t.Fatalf("Get = %+v, %v", st, ok)
	}
	st.Cgroups[0] = "changed"
	if again, _ := fx.table.Get(k); again.Cgroups[0] != pod {
		t.Errorf("changing a status changed the table: %q", again.Cgroups)
	}
	if !fx.table.SetCondition(k, st.Incarnation, Condition{Type: ConditionStatsFailing, Message: "x"}, true) {
		t.Fatal("SetCondition refused")
	}
	if st, _ := fx.table.Get(k); !st.HasCondition(ConditionStatsFailing) || !st.Stats.Pending {
		t.Errorf("condition on a pending group: %+v", st)
	}
	fx.table.SetCondition(k, st.Incarnation, Condition{Type: ConditionStatsFailing}, false)
	if st, _ := fx.table.Get(k); st.HasCondition(ConditionStatsFailing) {
		t.Error("condition not cleared")
	}
}

func TestEnsureIsIdempotentAndUpdatesLive(t *testing.T) {
	fx := newFixture(t, 1)
	pod := fx.pod(t, testUID)
	ctr := fx.container(t, testUID, "ctr")
	k, s := podSpec(testUID, limit8M, ScopePod)
	ensure(t, fx.table, k, s)
	st1, _ := fx.table.Get(k)
	writes := fx.fake.Writes()
	ensure(t, fx.table, k, s)
	if fx.fake.Writes() != writes {
		t.Errorf("the same spec again wrote %d times", fx.fake.Writes()-writes)
	}
	s.Limits = Limits{ReadBytesPerSecond: 1 << 20}
	ensure(t, fx.table, k, s)
	for _, d := range []string{pod, ctr} {
		wantLines(t, d, string(V1WriteBPS))
		wantLines(t, d, string(V1ReadBPS), "7:256 1048576")
	}
	if err := fx.table.Update(context.Background(), k, Limits{WriteIOPS: 50}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{pod, ctr} {
		wantLines(t, d, string(V1ReadBPS))
		wantLines(t, d, string(V1WriteIOPS), "7:256 50")
	}
	st2, _ := fx.table.Get(k)
	if st2.Incarnation != st1.Incarnation || st2.Spec.Limits != (Limits{WriteIOPS: 50}) {
		t.Errorf("after Update: incarnation %d (was %d), limits %+v", st2.Incarnation, st1.Incarnation, st2.Spec.Limits)
	}
	// Another device moves the entries.
	s.Device = Device{Major: 7, Minor: 257}
	ensure(t, fx.table, k, s)
	wantLines(t, pod, string(V1ReadBPS), "7:257 1048576")
	wantLines(t, pod, string(V1WriteIOPS))
}

func TestEnsureRejectsBadSpecs(t *testing.T) {
	fx := newFixture(t, 1)
	good := Spec{Device: testDev, Scope: ScopePod, Pod: PodRef{UID: testUID}}
	for name, c := range map[string]struct {
		k Key
		s Spec
	}{
		"no volume":     {Key{PodUID: testUID}, good},
		"uid mismatch":  {Key{VolumeID: "v", PodUID: "other"}, good},
		"traversal uid": {Key{VolumeID: "v", PodUID: "../x"}, Spec{Device: testDev, Scope: ScopePod, Pod: PodRef{UID: "../x"}}},
		"no device":     {Key{VolumeID: "v", PodUID: testUID}, Spec{Scope: ScopePod, Pod: PodRef{UID: testUID}}},
		"bad scope":     {Key{VolumeID: "v", PodUID: testUID}, Spec{Device: testDev, Scope: "node", Pod: PodRef{UID: testUID}}},
	} {
		if _, err := fx.table.Ensure(context.Background(), c.k, c.s); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: %v, want ErrInvalidSpec", name, err)
		}
	}
	if n := fx.table.Len(); n != 0 {
		t.Errorf("%d groups after refusals", n)
	}
}

// Concurrent Ensure/Update/Remove of one key and others, under -race: the
// end state matches the table.
func TestConcurrentEnsureRemoveKeepsKernelAndTableInStep(t *testing.T) {
	fx := newFixture(t, 1)
	pod := fx.pod(t, testUID)
	k, s := podSpec(testUID, limit8M, ScopeVolume)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				switch (i + j) % 3 {
				case 0:
					fx.table.Ensure(context.Background(), k, s)
				case 1:
					fx.table.Update(context.Background(), k, limit8M)
				case 2:
					fx.table.Remove(context.Background(), k)
				}
				fx.table.Get(k)
			}
		}()
	}
	wg.Wait()
	want := []string(nil)
	if _, ok := fx.table.Get(k); ok {
		want = []string{"7:256 8388608"}
	}
	wantLines(t, pod, string(V1WriteBPS), want...)
	wantLines(t, fx.fake.Root, string(V1WriteBPS), want...)
	if err := fx.table.Remove(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	wantLines(t, fx.fake.Root, string(V1WriteBPS))
	if n := len(fx.table.entries.m); n != 0 {
		t.Errorf("%d entries left in the entry table", n)
	}
}
