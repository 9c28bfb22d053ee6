package elastic

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

// Kernel test: real loop devices on this machine's disk, the real v1 blkio
// hierarchy, IO from container cgroups created below kubelet-style pod
// cgroups, and the controller reading the real /sys/block counters. It
// asserts what holds on a loaded machine — the aggressor's kernel entry is
// lifted while the victim is quiet and held while it is active — and logs
// the ratios (docs/benchmarks.md reports them from hack/bench).

const (
	mib          = 1 << 20
	victimRegion = 64 * mib
	aggrRegion   = 256 * mib
	aggrLimit    = 100 * mib
)

type elasticRig struct {
	table      *throttle.Table
	vKey, aKey throttle.Key
	vSpec      throttle.Spec
	vLoop      *testutil.Loop
	aLoop      *testutil.Loop
	vCtr, aCtr string
	aDev       throttle.Device
}

func newElasticRig(t *testing.T) *elasticRig {
	testutil.RequireBlkioV1(t)
	parent := testutil.NewCgroupParentV1(t)
	r := &elasticRig{vLoop: testutil.NewLoop(t, 2*victimRegion), aLoop: testutil.NewLoop(t, 2*aggrRegion)}
	if !r.vLoop.DirectIO() || !r.aLoop.DirectIO() {
		t.Fatal("loop devices run without direct IO")
	}
	if _, err := (SysDisks{}).DiskOf(throttle.Device{Major: r.vLoop.Major, Minor: r.vLoop.Minor}); err != nil {
		t.Skipf("the test's temp dir has no disk to watch: %v", err)
	}
	fill(t, r.vLoop.Path, victimRegion)
	tb := throttletest.NewTable(t, throttle.Options{Backend: throttle.NewV1(testutil.BlkioV1, nil), KubeletCgroupRoot: parent})
	r.table = tb
	vUID, aUID := testutil.PodUID(1), testutil.PodUID(2)
	r.vCtr = testutil.MkdirCgroupV1(t, parent+"/kubepods/burstable/pod"+vUID+"/ctr")
	r.aCtr = testutil.MkdirCgroupV1(t, parent+"/kubepods/burstable/pod"+aUID+"/ctr")
	r.aDev = throttle.Device{Major: r.aLoop.Major, Minor: r.aLoop.Minor}
	r.vKey, r.aKey = throttle.Key{VolumeID: "victim", PodUID: vUID}, throttle.Key{VolumeID: "aggressor", PodUID: aUID}
	r.vSpec = throttle.Spec{Device: throttle.Device{Major: r.vLoop.Major, Minor: r.vLoop.Minor}, Scope: throttle.ScopePod,
		Pod: throttle.PodRef{UID: vUID}, LatencyTarget: time.Millisecond}
	aSpec := throttle.Spec{Device: r.aDev, Scope: throttle.ScopePod, Pod: throttle.PodRef{UID: aUID},
		Limits: throttle.Limits{WriteBytesPerSecond: aggrLimit}, Elastic: true}
	for k, s := range map[throttle.Key]throttle.Spec{r.vKey: r.vSpec, r.aKey: aSpec} {
		if _, err := tb.Ensure(context.Background(), k, s); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// fill writes the victim's region so that its reads reach the disk (a hole
// in the backing file would be answered without IO).
func fill(t *testing.T, dev string, n int64) {
	f, err := os.OpenFile(dev, os.O_WRONLY|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf, err := unix.Mmap(-1, 0, mib, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	for i := range buf {
		buf[i] = byte(i)
	}
	for off := int64(0); off < n; off += mib {
		if _, err := f.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
}

// aggressorHeld reports whether the aggressor's container holds its limit.
func (r *elasticRig) aggressorHeld(t *testing.T) bool {
	b, err := os.ReadFile(filepath.Join(r.aCtr, string(throttle.V1WriteBPS)))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), r.aDev.String()+" ")
}

// awaitAggressorIO waits until the aggressor's device completes writes.
func (r *elasticRig) awaitAggressorIO(t *testing.T) {
	before, err := SysDisks{}.Stat(r.aDev)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if now, err := (SysDisks{}).Stat(r.aDev); err == nil && now.IOs > before.IOs {
			return
		}
	}
	t.Fatal("the aggressor did no IO within 10 s")
}

func (r *elasticRig) victim(t *testing.T, d time.Duration) *ioJob {
	return startIO(t, r.vCtr, "victim", r.vLoop.Path, d, victimRegion)
}

func (r *elasticRig) aggressor(t *testing.T, d time.Duration) *ioJob {
	return startIO(t, r.aCtr, "aggressor", r.aLoop.Path, d, aggrRegion)
}

func diskLatency(t *testing.T, disk throttle.Device, run func()) time.Duration {
	before, err := SysDisks{}.Stat(disk)
	if err != nil {
		t.Fatal(err)
	}
	run()
	after, err := SysDisks{}.Stat(disk)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := after.Latency(before)
	return l
}

func TestKernelElasticFourPhases(t *testing.T) {
	r := newElasticRig(t)
	disk, _ := SysDisks{}.DiskOf(r.aDev)
	// Short phases: the unthrottled aggressor writes at the disk's full
	// speed, and other packages' kernel tests run beside this one.
	const phase = 1500 * time.Millisecond
	settle := 500 * time.Millisecond // figures skip each phase's first half second

	// References without the controller: the aggressor unthrottled, the
	// victim alone (hack/bench section 7 adds the static limit beside them).
	if err := r.table.SetLift(r.aKey, &throttle.Limits{}); err != nil {
		t.Fatal(err)
	}
	var unthrottled ioReport
	aggrLat := diskLatency(t, disk, func() { unthrottled = r.aggressor(t, phase).report(t) })
	if err := r.table.SetLift(r.aKey, nil); err != nil {
		t.Fatal(err)
	}
	var alone ioReport
	aloneLat := diskLatency(t, r.vSpec.Device, func() { alone = r.victim(t, phase).report(t) })

	aloneIOPS, aloneP99 := alone.victimFigures(settle, 0)
	refRate := unthrottled.rate(settle, 0)
	t.Logf("mean IO time: victim's device alone %v; disk %s under the aggressor alone %v", aloneLat, disk, aggrLat)
	t.Logf("victim alone: %.0f IOPS, p99 %v; aggressor unthrottled %.0f MiB/s", aloneIOPS, aloneP99, refRate/mib)

	// The smallest target params accepts, which a loop device on this
	// disk misses whenever the victim is active: the asserts are about
	// held and lifted states, and whether a looser target is met on a
	// disk other engineers share depends on their load, not on us.
	target := 100 * time.Microsecond
	r.vSpec.LatencyTarget = target
	if _, err := r.table.Ensure(context.Background(), r.vKey, r.vSpec); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := New(r.table, SysDisks{}, Options{})
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	// Phase 2: the victim is quiet, the aggressor alone is lifted.
	aj := r.aggressor(t, phase)
	time.Sleep(phase - 300*time.Millisecond)
	if r.aggressorHeld(t) {
		st, _ := c.State(r.aKey)
		t.Errorf("victim quiet: aggressor still held (%s)", st.Reason)
	}
	liftedAggr := aj.report(t)

	// Phase 3: both active: the aggressor is held. The victim starts once
	// the aggressor writes (a process takes a while to start on a loaded
	// machine), and the hold is looked for while the victim runs.
	aj = r.aggressor(t, 2*phase+time.Second)
	r.awaitAggressorIO(t)
	vj := r.victim(t, phase+time.Second)
	held := false
	for deadline := time.Now().Add(phase + time.Second); !held && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		held = r.aggressorHeld(t)
	}
	both, bothAggr := vj.report(t), aj.report(t)
	if !held {
		st, _ := c.State(r.vKey)
		t.Errorf("both active: aggressor not held (disk mean IO time %v, target %v: %s)", st.DiskLatency, target, st.Reason)
	}

	// Phase 4: the victim returns after a quiet spell.
	aj = r.aggressor(t, 2*phase+time.Second)
	time.Sleep(phase - 500*time.Millisecond)
	if r.aggressorHeld(t) {
		t.Errorf("victim quiet again: aggressor still held")
	}
	vj = r.victim(t, phase+time.Second)
	started := time.Now()
	var heldAt time.Time
	for time.Since(started) < phase+time.Second {
		if r.aggressorHeld(t) {
			heldAt = time.Now()
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	back, backAggr := vj.report(t), aj.report(t)
	if heldAt.IsZero() {
		t.Errorf("victim returned: aggressor not held within %v", phase)
	}
	// From the victim's first IO (its process takes a while to start on a
	// loaded machine) to the limit in the aggressor's cgroup file.
	reaction := heldAt.Sub(back.Start)

	bIOPS, bP99 := both.victimFigures(settle, 0)
	_, firstP99 := back.victimFigures(0, time.Second)
	_, laterP99 := back.victimFigures(time.Second, 0)
	st, _ := c.State(r.aKey)
	t.Logf("elastic, victim quiet: aggressor %.2f of unthrottled (%.0f MiB/s)", liftedAggr.rate(settle, 0)/refRate, liftedAggr.rate(settle, 0)/mib)
	t.Logf("elastic, both active: victim %.2f of alone IOPS, p99 %.2fx alone; aggressor %.0f MiB/s",
		bIOPS/aloneIOPS, float64(bP99)/float64(aloneP99), bothAggr.rate(settle, 0)/mib)
	t.Logf("elastic, victim returns: held after %v (control period %v); victim p99 %.2fx alone in its first second, %.2fx after; aggressor before the return %.2f of unthrottled",
		reaction, c.Period(), float64(firstP99)/float64(aloneP99), float64(laterP99)/float64(aloneP99), backAggr.rate(settle, phase-500*time.Millisecond)/refRate)
	t.Logf("aggressor held %v in total over %d holds; last reaction %v", st.HeldTime, st.Holds, st.LastReaction)
}
