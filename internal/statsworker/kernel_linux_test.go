package statsworker

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

// The worker on the real v1 hierarchy: a container created after Ensure
// writes 24 MiB with direct IO under an 8 MiB/s limit; the worker's samples
// show the rate it was held to, and the total does not go down when the
// container cgroup is removed (v1 drops its counts from the pod's recursive
// file ~20 ms after rmdir; the table's IN_DELETE notification has the
// worker sample before that, and the carry-over keeps what was counted).
func TestKernelWorkerReportsThrottledRate(t *testing.T) {
	testutil.RequireBlkioV1(t)
	parent := testutil.NewCgroupParentV1(t)
	loop := testutil.NewLoop(t, 64<<20)
	sink := &recSink{}
	var w *Worker
	tb := throttletest.NewTable(t, throttle.Options{
		Backend: throttle.NewV1(testutil.BlkioV1, nil), KubeletCgroupRoot: parent,
		Notify: func(k throttle.Key) { w.Enqueue(k) },
	})
	w = New(tb, Options{Interval: time.Second, Sinks: []Sink{sink}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, 2); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	testutil.MkdirCgroupV1(t, parent+"/kubepods/besteffort/pod"+uid)
	k := throttle.Key{VolumeID: "vol", PodUID: uid}
	const limit = 8 << 20
	if _, err := tb.Ensure(context.Background(), k, throttle.Spec{
		Device: throttle.Device{Major: loop.Major, Minor: loop.Minor}, Scope: throttle.ScopePod,
		Limits: throttle.Limits{WriteBytesPerSecond: limit}, Pod: throttle.PodRef{UID: uid},
	}); err != nil {
		t.Fatal(err)
	}
	ctr := testutil.MkdirCgroupV1(t, parent+"/kubepods/besteffort/pod"+uid+"/ctr")
	time.Sleep(100 * time.Millisecond) // the watcher places the limit (measured < 10 ms)
	run, err := testutil.RunWaited(testutil.CommandInCgroup(t, ctr, "dd", "if=/dev/zero", "of="+loop.Path, "bs=1M", "count=24", "oflag=direct", "status=none"))
	if err != nil {
		t.Fatalf("dd: %v: %s", err, run.Out)
	}
	// The samples taken during the write show the held rate. Their median,
	// not their peak: a window may open or close mid-write.
	sink.mu.Lock()
	var rates []float64
	for _, st := range sink.observed {
		if st.Stats.WriteBytesPerSecond > 0 {
			rates = append(rates, st.Stats.WriteBytesPerSecond)
		}
	}
	sink.mu.Unlock()
	if len(rates) == 0 {
		t.Fatal("no sample saw the write")
	}
	slices.Sort(rates)
	median := rates[len(rates)/2]
	// The floor drops by the share of the write dd waited for a CPU: with
	// one IO in flight that is budget the kernel could not hand out, and
	// the samples see the rate dd reached, not the limit.
	floor := iobench.Floor(0.5, run.Elapsed, run.Waited)
	t.Logf("sampled write rates %v B/s, median %.2f MiB/s (limit 8; dd waited %v of %v for a CPU)", rates, median/(1<<20), run.Waited, run.Elapsed)
	if median < floor*limit || median > 1.25*limit {
		t.Errorf("median sampled write rate %.2f MiB/s; want within %.2fx-1.25x of 8 MiB/s", median/(1<<20), floor)
	}
	before, _ := tb.Get(k)
	testutil.RemoveCgroupV1(t, ctr)
	time.Sleep(1500 * time.Millisecond) // the drop happens, more samples are taken
	after, _ := tb.Get(k)
	raw, _, err := tb.ReadCounters(k)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("total before rmdir %d, after %d, pod recursive file now %d (24 MiB = %d)",
		before.Stats.WriteBytes, after.Stats.WriteBytes, raw.WriteBytes, 24<<20)
	if after.Stats.WriteBytes < before.Stats.WriteBytes || after.Stats.WriteBytes == 0 {
		t.Errorf("the total went from %d to %d when the container left; totals must never go down",
			before.Stats.WriteBytes, after.Stats.WriteBytes)
	}
	if raw.WriteBytes >= 24<<20 {
		t.Logf("the kernel kept the removed container's counts in the pod's recursive file")
	} else if after.Stats.WriteBytes < 24<<20 {
		t.Logf("the sample on IN_DELETE came too late to count the last %d bytes", 24<<20-after.Stats.WriteBytes)
	}
}
