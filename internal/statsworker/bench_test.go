package statsworker

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

// BenchmarkEnsureWhileSinkBlocks: Ensure (+ Remove, untimed) of a new group
// while the worker runs (2 workers, 1 ms resync over 100 groups) with a
// healthy sink and with a sink that blocks forever; the publish path must
// not care (compare the two ns/op). The table sits on
// testutil.NullCgroupFS so that file IO does not drown the difference.
func BenchmarkEnsureWhileSinkBlocks(b *testing.B) {
	for _, blocked := range []bool{false, true} {
		b.Run(fmt.Sprintf("sinkBlocked=%v", blocked), func(b *testing.B) {
			sink := &recSink{}
			if blocked {
				sink.block, sink.entered = make(chan struct{}), make(chan struct{}, 1)
			}
			var w *Worker
			tb := throttletest.NewTable(b, throttle.Options{
				Backend: throttle.NewV2("/null", testutil.NullCgroupFS{}),
				Notify:  func(k throttle.Key) { w.Enqueue(k) },
			})
			w = New(tb, Options{Sinks: []Sink{sink}, Interval: time.Millisecond})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { w.Run(ctx, 2); close(done) }()
			b.Cleanup(func() { cancel(); <-done })
			spec := func(u string) throttle.Spec {
				return throttle.Spec{Device: dev, Scope: throttle.ScopePod, Limits: throttle.Limits{WriteBytesPerSecond: 1 << 20}, Pod: throttle.PodRef{UID: u}}
			}
			for i := range 100 {
				u := testutil.PodUID(i)
				if _, err := tb.Ensure(ctx, throttle.Key{VolumeID: "vol", PodUID: u}, spec(u)); err != nil {
					b.Fatal(err)
				}
			}
			if blocked {
				<-sink.entered
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := throttle.Key{VolumeID: fmt.Sprint("bench-", i), PodUID: uid}
				if _, err := tb.Ensure(context.Background(), k, spec(uid)); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				tb.Remove(context.Background(), k)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkSyncPerGroup: one worker sync (reconcile the pod's containers,
// read back the group's two entries, pod and container, and compare them
// with the table; read and parse the two recursive stat files, compute,
// install) per group, over n groups on the real v1 hierarchy with a real
// loop device, beside the readback alone, a bare read of the two stat
// files through the same read path (OSFS), and a bare read of those two and
// the four limit files of each of the two entries: the floor of a sync that
// trusts the kernel rather than the table.
//
// Each also reports cpu-us/op, the goroutine's thread CPU time per op: on a
// loaded machine wall time is mostly waiting for a CPU.
func BenchmarkSyncPerGroup(b *testing.B) {
	testutil.RequireBlkioV1(b)
	for _, n := range []int{1, 100, 1000, 10000} {
		parent := testutil.NewCgroupParentV1(b)
		loop := testutil.NewLoop(b, 16<<20)
		tb := throttletest.NewTable(b, throttle.Options{Backend: throttle.NewV1(testutil.BlkioV1, nil), KubeletCgroupRoot: parent})
		w := New(tb, Options{})
		var keys []throttle.Key
		var pods []string
		for i := range n {
			pods = append(pods, testutil.MkdirCgroupV1(b, parent+"/kubepods/burstable/pod"+testutil.PodUID(i)))
			testutil.MkdirCgroupV1(b, parent+"/kubepods/burstable/pod"+testutil.PodUID(i)+"/ctr")
			k := throttle.Key{VolumeID: "vol", PodUID: testutil.PodUID(i)}
			if _, err := tb.Ensure(context.Background(), k, throttle.Spec{
				Device: throttle.Device{Major: loop.Major, Minor: loop.Minor}, Scope: throttle.ScopePod,
				Limits: throttle.Limits{WriteBytesPerSecond: 1 << 30}, Pod: throttle.PodRef{UID: testutil.PodUID(i)},
			}); err != nil {
				b.Fatal(err)
			}
			keys = append(keys, k)
		}
		b.Run(fmt.Sprintf("sync/groups=%d", n), func(b *testing.B) {
			defer cpuPerOp(b)()
			for i := 0; i < b.N; i++ {
				if err := w.sync(context.Background(), keys[i%n]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("readback/groups=%d", n), func(b *testing.B) {
			defer cpuPerOp(b)()
			for i := 0; i < b.N; i++ {
				if rb, err := tb.Readback(keys[i%n]); err != nil || len(rb.Repaired) > 0 || !rb.Holds() {
					b.Fatal(rb, err)
				}
			}
		})
		b.Run(fmt.Sprintf("bare-read-all/groups=%d", n), func(b *testing.B) {
			defer cpuPerOp(b)()
			for i := 0; i < b.N; i++ {
				bareReadAll(b, pods[i%n])
			}
		})
		// paired: a sync and its floor, the bare read of every file it
		// reads, of the same group in every iteration, each op timed on its
		// own (wall and thread CPU), the order swapped every iteration. The
		// sub-benchmarks above run seconds apart, and their means of wall
		// time hold every wait for a CPU: on a loaded machine two such
		// means compare the load of two moments. The medians of paired ops
		// compare the two pieces of work in the same seconds.
		b.Run(fmt.Sprintf("paired/groups=%d", n), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var sync, floor opTimes
			start, waited0 := time.Now(), testutil.ThreadRunDelay(b)
			for i := 0; i < b.N; i++ {
				k, p := keys[i%n], pods[i%n]
				doSync := func() {
					if err := w.sync(context.Background(), k); err != nil {
						b.Fatal(err)
					}
				}
				if i%2 == 0 {
					sync.time(b, doSync)
					floor.time(b, func() { bareReadAll(b, p) })
				} else {
					floor.time(b, func() { bareReadAll(b, p) })
					sync.time(b, doSync)
				}
			}
			// Where the wall time of the two goes beyond their CPU time:
			// the time the thread sat runnable in the kernel's run queue,
			// waiting for a CPU, per op (both kinds).
			ops := float64(2 * b.N)
			b.ReportMetric(float64(time.Since(start))/1e3/ops, "wall-us/op")
			b.ReportMetric(float64(testutil.ThreadRunDelay(b)-waited0)/1e3/ops, "runq-us/op")
			sync.report(b, "sync-")
			floor.report(b, "floor-")
		})
		b.Run(fmt.Sprintf("bare-read/groups=%d", n), func(b *testing.B) {
			defer cpuPerOp(b)()
			for i := 0; i < b.N; i++ {
				readStatFiles(b, pods[i%n])
			}
		})
	}
}

// bareReadAll reads, through the same read path as the backend (OSFS),
// every file a sync of the group of pod cgroup p reads: the two recursive
// stat files and the four limit files of the pod and of its container.
func bareReadAll(b *testing.B, p string) {
	readStatFiles(b, p)
	for _, dir := range []string{p, p + "/ctr"} {
		for _, k := range throttle.V1Knobs {
			if _, err := (throttle.OSFS{}).ReadFile(filepath.Join(dir, string(k))); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// opTimes are the wall and thread CPU times of single ops.
type opTimes struct{ wall, cpu []time.Duration }

// time runs op and records its wall and thread CPU time; the caller holds
// its thread (runtime.LockOSThread).
func (t *opTimes) time(b *testing.B, op func()) {
	start, cpu0 := time.Now(), testutil.ThreadCPU(b)
	op()
	t.wall, t.cpu = append(t.wall, time.Since(start)), append(t.cpu, testutil.ThreadCPU(b)-cpu0)
}

// report reports the mean and median of both: PREFIXmean-us,
// PREFIXp50-us (wall), PREFIXcpu-mean-us and PREFIXcpu-p50-us.
func (t *opTimes) report(b *testing.B, prefix string) {
	p50 := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2]) / 1e3
	}
	mean := func(ds []time.Duration) float64 {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return float64(sum) / 1e3 / float64(len(ds))
	}
	b.ReportMetric(mean(t.wall), prefix+"mean-us")
	b.ReportMetric(mean(t.cpu), prefix+"cpu-mean-us")
	b.ReportMetric(p50(t.wall), prefix+"p50-us")
	b.ReportMetric(p50(t.cpu), prefix+"cpu-p50-us")
}

// cpuPerOp locks the benchmark's goroutine to its thread and returns the
// function, deferred, that reports the thread's CPU time per op (user and
// system, unix.CLOCK_THREAD_CPUTIME_ID) as cpu-us/op.
func cpuPerOp(b *testing.B) func() {
	runtime.LockOSThread()
	now := func() time.Duration { return testutil.ThreadCPU(b) }
	start := now()
	return func() {
		b.ReportMetric(float64(now()-start)/1e3/float64(b.N), "cpu-us/op")
		runtime.UnlockOSThread()
	}
}

// readStatFiles reads the two v1 counter files a stats sample reads for
// pod, as the bare-read baselines do without the worker around them.
func readStatFiles(b *testing.B, pod string) {
	for _, f := range []string{"blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"} {
		if _, err := (throttle.OSFS{}).ReadFile(filepath.Join(pod, f)); err != nil {
			b.Fatal(err)
		}
	}
}
