package statsworker

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

const uid = "5f1d2c3b-aaaa-4bbb-8ccc-0123456789ab"

var dev = throttle.Device{Major: 7, Minor: 256}

// recSink records what it is given; it can fail or block.
type recSink struct {
	mu       sync.Mutex
	observed []throttle.GroupStatus
	forgot   []throttle.Key
	err      error
	block    chan struct{} // Observe waits on it when non-nil
	entered  chan struct{}
}

func (s *recSink) Observe(ctx context.Context, st throttle.GroupStatus) error {
	if s.block != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observed = append(s.observed, st)
	return s.err
}

func (s *recSink) Forget(k throttle.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgot = append(s.forgot, k)
}

func (s *recSink) last() (throttle.GroupStatus, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.observed) == 0 {
		return throttle.GroupStatus{}, 0
	}
	return s.observed[len(s.observed)-1], len(s.observed)
}

type fixture struct {
	fake   *testutil.FakeCgroup
	table  *throttle.Table
	worker *Worker
	sink   *recSink
	clock  *clocktesting.FakePassiveClock
	pod    string
}

// newFixture: a real table on a fake v1 tree, a worker whose queue the
// table notifies, one recording sink, a fake clock.
func newFixture(t testing.TB, o Options) *fixture {
	t.Helper()
	fx := &fixture{fake: testutil.NewFakeCgroupV1(t), sink: &recSink{}, clock: clocktesting.NewFakePassiveClock(time.Unix(1000, 0))}
	if o.Sinks == nil {
		o.Sinks = []Sink{fx.sink}
	}
	o.Clock = fx.clock
	if o.BaseDelay == 0 {
		o.BaseDelay, o.MaxDelay = time.Millisecond, 4*time.Millisecond
	}
	var w *Worker
	tb := throttletest.NewTable(t, throttle.Options{
		Backend:           throttle.NewV1(fx.fake.Root, fx.fake),
		KubeletCgroupRoot: "kroot",
		Notify:            func(k throttle.Key) { w.Enqueue(k) },
		// The worker's retry of Degraded placements is tested here; that v1
		// refuses them by default is the throttle package's test.
		AcceptUnheldV1: true,
	})
	w = New(tb, o)
	t.Cleanup(w.queue.ShutDown)
	fx.table, fx.worker = tb, w
	fx.pod = fx.fake.Mkdir(t, "kroot/kubepods/burstable/pod"+uid)
	return fx
}

func (fx *fixture) ensure(t testing.TB, u string, scope throttle.Scope) throttle.Key {
	t.Helper()
	k := throttle.Key{VolumeID: "vol-1", PodUID: u}
	if _, err := fx.table.Ensure(context.Background(), k, throttle.Spec{
		Device: dev, Scope: scope, Limits: throttle.Limits{WriteBytesPerSecond: 8 << 20}, Pod: throttle.PodRef{UID: u},
	}); err != nil {
		t.Fatal(err)
	}
	return k
}

// drain processes queued keys until the queue is empty.
func (fx *fixture) drain(t *testing.T) {
	t.Helper()
	for fx.worker.Len() > 0 {
		fx.worker.processNextWorkItem(context.Background())
	}
}

func TestSyncInstallsStatsWithRatesAndFeedsSinks(t *testing.T) {
	fx := newFixture(t, Options{})
	k := fx.ensure(t, uid, throttle.ScopePod)
	fx.fake.SetIO(t, fx.pod, "7:256", testutil.IO{WriteBytes: 1 << 20, WriteIOs: 256})
	if err := fx.worker.sync(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	st, _ := fx.table.Get(k)
	if st.Phase != throttle.PhaseActive || st.Stats.Pending || st.Stats.WriteBytes != 1<<20 {
		t.Fatalf("after the first sync: phase %s stats %+v", st.Phase, st.Stats)
	}
	// One default interval (10 s) later: 80 MiB and 20480 IOs more.
	fx.clock.SetTime(fx.clock.Now().Add(10 * time.Second))
	fx.fake.SetIO(t, fx.pod, "7:256", testutil.IO{WriteBytes: 81 << 20, WriteIOs: 20736})
	if err := fx.worker.sync(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	got, n := fx.sink.last()
	if n != 2 || got.Stats.WriteBytesPerSecond != 8<<20 || got.Stats.WriteIOPS != 2048 || got.Key != k {
		t.Fatalf("sink saw %d snapshots, last %+v; want 8 MiB/s, 2048 IOPS", n, got.Stats)
	}
}

// The v1 root's recursive file drops a removed subtree's counts: the
// group's totals must not go down with it.
func TestSyncTotalsNeverDecrease(t *testing.T) {
	fx := newFixture(t, Options{})
	k := fx.ensure(t, uid, throttle.ScopeVolume) // stats from the root
	fx.fake.SetIO(t, fx.fake.Root, "7:256", testutil.IO{WriteBytes: 3000})
	fx.worker.sync(context.Background(), k)
	fx.fake.SetIO(t, fx.fake.Root, "7:256", testutil.IO{WriteBytes: 1000})
	fx.clock.SetTime(fx.clock.Now().Add(time.Second))
	fx.worker.sync(context.Background(), k)
	st, _ := fx.table.Get(k)
	if st.Stats.WriteBytes != 3000 {
		t.Fatalf("total after a drop = %d, want 3000", st.Stats.WriteBytes)
	}
}

// Invariant 2: a sink that blocks forever holds up its worker, never the
// publish path: Ensure, Update, Get and Remove all return.
func TestInvariant2_EnsureReturnsWhileSinkBlocksForever(t *testing.T) {
	sink := &recSink{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	fx := newFixture(t, Options{Sinks: []Sink{sink}, Interval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { fx.worker.Run(ctx, 2); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	fx.ensure(t, uid, throttle.ScopePod)
	select {
	case <-sink.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the sink was never called")
	}
	// Both workers are now stuck in the sink (every key reaches it). The
	// publish-path calls run on the test goroutine (so that t.Fatal in the
	// helpers is legal); a watchdog turns a hang into a loud failure.
	watchdog := time.AfterFunc(30*time.Second, func() {
		panic("the publish path is stuck behind a blocked sink")
	})
	defer watchdog.Stop()
	for i := range 100 {
		u := strings.Replace(uid, "5f1d2c3b", "0000"+string(rune('a'+i%26))+string(rune('a'+i/26))+"00", 1)
		fx.fake.Mkdir(t, "kroot/kubepods/burstable/pod"+u)
		k := fx.ensure(t, u, throttle.ScopePod)
		if err := fx.table.Update(context.Background(), k, throttle.Limits{ReadIOPS: 10}); err != nil {
			t.Fatal(err)
		}
		if _, ok := fx.table.Get(k); !ok {
			t.Fatal("Get lost a group")
		}
		if err := fx.table.Remove(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if _, n := sink.last(); n != 0 {
		t.Errorf("the blocked sink completed %d observations", n)
	}
}

// Invariant 5: a key notified many times while queued is queued once and
// synced once.
func TestInvariant5_QueuedKeyNotQueuedTwice(t *testing.T) {
	fx := newFixture(t, Options{})
	k := fx.ensure(t, uid, throttle.ScopePod) // notifies once
	for range 100 {
		fx.worker.Enqueue(k)
	}
	fx.fake.Mkdir(t, "kroot/kubepods/burstable/pod"+uid+"/ctr") // the watcher notifies too
	time.Sleep(50 * time.Millisecond)
	if n := fx.worker.Len(); n != 1 {
		t.Fatalf("queue length %d, want 1", n)
	}
	fx.drain(t)
	if _, n := fx.sink.last(); n != 1 {
		t.Fatalf("synced %d times, want once", n)
	}
}

// Invariant 6: a failing key is retried with backoff up to the cap; then
// the group carries StatsFailing, the counter moves, the sinks hear of it
// and the key is forgotten until the next resync, which heals it.
func TestInvariant6_RetryCapSurfaces(t *testing.T) {
	fx := newFixture(t, Options{MaxRetries: 3})
	k := fx.ensure(t, uid, throttle.ScopePod)
	file := filepath.Join(fx.pod, "blkio.throttle.io_serviced_recursive")
	fx.fake.FailReads(file, syscall.EIO)
	deadline := time.Now().Add(10 * time.Second)
	attempts := 0
	for fx.worker.StatsFailures() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no failure surfaced after %d attempts", attempts)
		}
		fx.worker.processNextWorkItem(context.Background()) // blocks until the backoff releases the key
		attempts++
	}
	if attempts != 4 {
		t.Errorf("%d attempts before giving up, want 1 + 3 retries", attempts)
	}
	st, _ := fx.table.Get(k)
	if !st.HasCondition(throttle.ConditionStatsFailing) || !strings.Contains(st.Conditions[0].Message, "input/output error") {
		t.Fatalf("conditions %+v; want StatsFailing with the cause", st.Conditions)
	}
	if got, n := fx.sink.last(); n != 1 || !got.HasCondition(throttle.ConditionStatsFailing) {
		t.Errorf("the sink was not told (%d snapshots)", n)
	}
	if n := fx.worker.queue.NumRequeues(k); n != 0 || fx.worker.Len() != 0 {
		t.Errorf("the key is still tracked (requeues %d, queued %d); want it forgotten until resync", n, fx.worker.Len())
	}
	fx.fake.FailReads(file, nil)
	fx.worker.resync()
	fx.drain(t)
	if st, _ := fx.table.Get(k); st.HasCondition(throttle.ConditionStatsFailing) || st.Phase != throttle.PhaseActive {
		t.Errorf("after the resync: %+v phase %s; want the condition cleared", st.Conditions, st.Phase)
	}
}

// A sink error is a transient error of the key: it is retried.
func TestSinkErrorIsRetried(t *testing.T) {
	fx := newFixture(t, Options{})
	fx.sink.err = errors.New("apiserver unavailable")
	k := fx.ensure(t, uid, throttle.ScopePod)
	fx.worker.processNextWorkItem(context.Background())
	if n := fx.worker.queue.NumRequeues(k); n != 1 {
		t.Fatalf("requeues after a sink error = %d, want 1", n)
	}
}

// racingGroups re-creates the group between the read of its counters and
// the install, as a Remove + Ensure from the driver would.
type racingGroups struct {
	Groups
	race func()
}

func (r racingGroups) ReadCounters(k throttle.Key) (throttle.Counters, uint64, error) {
	c, inc, err := r.Groups.ReadCounters(k)
	r.race()
	return c, inc, err
}

// Invariant 7: a result computed for an older incarnation is discarded.
func TestInvariant7_StaleResultDiscarded(t *testing.T) {
	fx := newFixture(t, Options{})
	k := fx.ensure(t, uid, throttle.ScopePod)
	fx.fake.SetIO(t, fx.pod, "7:256", testutil.IO{WriteBytes: 999})
	old, _ := fx.table.Get(k)
	w := New(racingGroups{Groups: fx.table, race: func() {
		if err := fx.table.Remove(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		fx.ensure(t, uid, throttle.ScopePod)
	}}, Options{Sinks: []Sink{fx.sink}})
	if err := w.sync(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	st, _ := fx.table.Get(k)
	if st.Incarnation == old.Incarnation || !st.Stats.Pending || st.Phase != throttle.PhasePending {
		t.Fatalf("new incarnation %d (old %d) got stats %+v", st.Incarnation, old.Incarnation, st.Stats)
	}
	if _, n := fx.sink.last(); n != 0 {
		t.Errorf("the sinks were handed a stale snapshot")
	}
}

// Invariant 8: removing a group while its key is queued is safe: the worker
// finds it gone, does not fail, and the sinks forget it.
func TestInvariant8_RemoveWhileWorkPending(t *testing.T) {
	fx := newFixture(t, Options{})
	k := fx.ensure(t, uid, throttle.ScopePod)
	fx.worker.sync(context.Background(), k) // a previous sample exists
	fx.worker.Enqueue(k)
	if err := fx.table.Remove(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	_, before := fx.sink.last()
	fx.drain(t)
	_, after := fx.sink.last()
	if after != before {
		t.Errorf("the sinks observed a removed group")
	}
	if len(fx.sink.forgot) != 1 || fx.sink.forgot[0] != k {
		t.Errorf("sinks forgot %v, want %v", fx.sink.forgot, k)
	}
	if _, ok := fx.worker.prev[k]; ok || fx.worker.StatsFailures() != 0 {
		t.Errorf("the worker kept state or counted a failure for a removed group")
	}
}

// Invariant 3 (worker side): the sync retries a Degraded group's placement
// and promotes it when the pod cgroup appears.
func TestSyncPromotesDegradedGroup(t *testing.T) {
	fx := newFixture(t, Options{})
	u := "7f1d2c3b-aaaa-4bbb-8ccc-0123456789ab"
	k := fx.ensure(t, u, throttle.ScopePod)
	fx.drain(t)
	if st, _ := fx.table.Get(k); st.Phase != throttle.PhaseDegraded || st.Stats.Pending {
		t.Fatalf("phase %s pending %v; want Degraded with stats from the fallback", st.Phase, st.Stats.Pending)
	}
	pod := fx.fake.Mkdir(t, "kroot/kubepods/besteffort/pod"+u)
	fx.worker.resync()
	fx.drain(t)
	st, _ := fx.table.Get(k)
	if st.Phase != throttle.PhaseActive || st.PodCgroup != pod {
		t.Fatalf("after the pod appeared: phase %s, pod %q", st.Phase, st.PodCgroup)
	}
}

// Invariants 4 and 9 end to end: readers see pending zeros, then Run fills
// the stats within a resync and stops when its context ends.
func TestRunFillsStatsAndStops(t *testing.T) {
	fx := newFixture(t, Options{Interval: 20 * time.Millisecond})
	k := fx.ensure(t, uid, throttle.ScopePod)
	if st, _ := fx.table.Get(k); !st.Stats.Pending || st.Stats.WriteBytes != 0 {
		t.Fatalf("before Run: %+v", st.Stats)
	}
	fx.fake.SetIO(t, fx.pod, "7:256", testutil.IO{ReadBytes: 4096, ReadIOs: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { fx.worker.Run(ctx, 2); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := fx.table.Get(k)
		if st.Phase == throttle.PhaseActive && st.Stats.ReadBytes == 4096 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never filled: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
