package burst

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

// BenchmarkStep1000Groups is the controller's cost at 1,000 groups with a
// burst: one op is one tick over all of them. The figure that matters is
// cpu-us/group/s, the CPU one group costs per second at the default
// interval (four ticks a second), and cpu-ms/s for all 1,000.
//
//   - fake-counters: counters from memory, the controller's own cost (the
//     bucket arithmetic, the status snapshot, the boost decision);
//   - v1-table: the real throttle table on a cgroup v1 tree of files
//     (testutil.FakeCgroup: real files in a temp dir, read through the page
//     cache like cgroupfs), so a tick includes the two counter files each
//     group's sample reads.
func BenchmarkStep1000Groups(b *testing.B) {
	const n = 1000
	ticks := float64(time.Second / DefaultInterval)
	// The machines that run this are shared and loaded, so wall time per
	// op says more about the neighbours than about the controller; the
	// figures are the process's CPU time (user + system, from getrusage)
	// per tick, GC included.
	var cpuStart time.Duration
	start := func(b *testing.B) {
		b.ResetTimer()
		cpuStart = cpuTime(b)
	}
	report := func(b *testing.B) {
		perTick := float64((cpuTime(b) - cpuStart).Nanoseconds()) / float64(b.N)
		b.ReportMetric(perTick/n*ticks/1e3, "cpu-us/group/s")
		b.ReportMetric(perTick*ticks/1e6, "cpu-ms/s")
	}
	b.Run("fake-counters", func(b *testing.B) {
		g := newManyGroups(n)
		c := New(g, Options{})
		for _, k := range g.keys {
			c.Track(k, burst40)
		}
		now := time.Now()
		c.step(context.Background(), now)
		start(b)
		for i := 0; i < b.N; i++ {
			g.advance()
			now = now.Add(DefaultInterval)
			c.step(context.Background(), now)
		}
		report(b)
	})
	b.Run("v1-table", func(b *testing.B) {
		fake := testutil.NewFakeCgroupV1(b)
		tb := throttletest.NewTable(b, throttle.Options{Backend: throttle.NewV1(fake.Root, fake), KubeletCgroupRoot: "kroot"})
		fake.Mkdir(b, "kroot/kubepods/burstable")
		dev := throttle.Device{Major: 7, Minor: 0}
		c := New(tb, Options{})
		for i := range n {
			uid := testutil.PodUID(i)
			fake.Mkdir(b, "kroot/kubepods/burstable/pod"+uid)
			key := throttle.Key{VolumeID: fmt.Sprint("vol-", i), PodUID: uid}
			if _, err := tb.Ensure(context.Background(), key, throttle.Spec{Device: dev, Scope: throttle.ScopePod,
				Limits: throttle.Limits{WriteBytesPerSecond: 8 << 20}, Pod: throttle.PodRef{UID: uid}}); err != nil {
				b.Fatal(err)
			}
			c.Track(key, burst40)
		}
		now := time.Now()
		c.step(context.Background(), now)
		start(b)
		for i := 0; i < b.N; i++ {
			now = now.Add(DefaultInterval)
			c.step(context.Background(), now)
		}
		report(b)
		b.StopTimer()
		for _, k := range tb.Keys() {
			tb.Remove(context.Background(), k)
		}
	})
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// manyGroups is n groups whose writers each do 20 MiB/s, so buckets drain
// and the controller switches some of them.
type manyGroups struct {
	mu       sync.Mutex
	keys     []throttle.Key
	counters map[throttle.Key]throttle.Counters
	boost    map[throttle.Key]throttle.Limits
}

func newManyGroups(n int) *manyGroups {
	g := &manyGroups{counters: map[throttle.Key]throttle.Counters{}, boost: map[throttle.Key]throttle.Limits{}}
	for i := range n {
		k := throttle.Key{VolumeID: fmt.Sprint("vol-", i), PodUID: testutil.PodUID(i)}
		g.keys = append(g.keys, k)
		g.counters[k] = throttle.Counters{}
	}
	return g
}

func (g *manyGroups) advance() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, c := range g.counters {
		c.WriteBytes += 5 << 20 // 20 MiB/s over a 250 ms tick
		g.counters[k] = c
	}
}

func (g *manyGroups) Get(k throttle.Key) (throttle.GroupStatus, bool) {
	return throttle.GroupStatus{Key: k, Incarnation: 1, Spec: throttle.Spec{Limits: baseline}}, true
}

func (g *manyGroups) ReadCounters(k throttle.Key) (throttle.Counters, uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counters[k], 1, nil
}

func (g *manyGroups) SetBoost(k throttle.Key, _ uint64, boost throttle.Limits, _ *throttle.BurstState) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.boost[k] = boost
	return nil
}
