//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/burst"
	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestBurst (section 7): the burst credit model against what the kernel
// let a full-speed direct-IO writer do, for two bucket sizes, through the
// real driver and burst controller; and the controller's CPU per group from
// the Go benchmark.
func TestBurst(t *testing.T) {
	sizes := []int{5, 10}
	if cfg.smoke {
		sizes = []int{1}
	}
	const base, rate = 8 * mib, 40 * mib
	var b strings.Builder
	fmt.Fprintf(&b, "A volume with `writeBytesPerSecond: 8Mi`, `writeBytesPerSecondBurst: 40Mi` and `burstSeconds` as below, "+
		"published for a kubelet-style pod; a `dd oflag=direct bs=1M` writer in its container cgroup writes as fast as the kernel lets it, "+
		"starting on a full bucket, for 2 × burstSeconds + 10 s; then it stops and the bucket refills. The clock starts at the writer's first bytes. Achieved = what the kernel dispatched "+
		"from the container cgroup (blkio.throttle.io_service_bytes), sampled every 50 ms; \"switch due\" = when the model, fed the writer's real IO, "+
		"has the bucket down to one tick's worth of credit (a writer slowed by a loaded machine drains it later); \"burst ended\" = when the container's "+
		"write_bps_device went back to the baseline; \"refilled\" = when the controller reported the bucket full again. The model: "+
		"(burst − baseline) × burstSeconds of credit, drained at (use − baseline) per second, refilled at (baseline − use), "+
		"so the burst lasts burstSeconds and a drained bucket refills in 4 × burstSeconds. The controller samples every %v and "+
		"switches a tick before the bucket would run dry, so about (burst − baseline) × %v of credit is left when the burst ends.\n\n",
		burst.DefaultInterval, burst.DefaultInterval)
	var rows [][]string
	var targets []target
	for _, s := range sizes {
		r := burstTrace(t, s, base, rate)
		rows = append(rows, []string{fmt.Sprint(s, " s"), fmt.Sprint(r.run),
			fmt.Sprintf("%.0f MiB", r.model/float64(mib)), fmt.Sprintf("%.1f MiB", r.got/float64(mib)), fmt.Sprintf("%.3f", r.got/r.model),
			fmt.Sprintf("%d s", s), fmt.Sprintf("%.2f s", r.dry.Seconds()), fmt.Sprintf("%.2f s", r.empty.Seconds()),
			fmt.Sprintf("%.1f s", r.refillModel.Seconds()), fmt.Sprintf("%.1f s", r.refill.Seconds())})
		off := r.got/r.model - 1
		verdict := "met"
		if off > 0.1 || off < -0.1 {
			verdict = fmt.Sprintf("missed: %+.1f%%", 100*off)
		}
		targets = append(targets, target{What: fmt.Sprintf("burst: bytes of a full-speed writer vs the bucket model (%d s bucket)", s),
			Goal: "within 10%", Measured: fmt.Sprintf("%.3f of the model", r.got/r.model), Verdict: verdict})
	}
	b.WriteString(table([]string{"burstSeconds", "run", "model bytes", "achieved", "ratio", "model: burst lasts",
		"switch due (model on the real IO)", "burst ended after",
		"model: refill from the end of the run", "refilled after"}, rows))
	b.WriteString("\n")
	if cfg.gobench == "" {
		b.WriteString("The controller's Go benchmark was not run (smoke mode or no -bench.gobench).\n")
	} else {
		benches, err := parseGoBench(cfg.gobench)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("Controller cost at 1,000 groups with a burst (`BenchmarkStep1000Groups` in internal/burst): the process's CPU time " +
			"(user + system, getrusage; the machine is shared, so wall time would measure the neighbours) per tick over 1,000 groups, " +
			"times four ticks a second. `fake-counters` reads counters from memory (the controller alone); `v1-table` is the real " +
			"throttle table on a cgroup v1 tree of files, so each group's sample reads its two counter files.\n\n")
		var brow [][]string
		for _, v := range []string{"fake-counters", "v1-table"} {
			g, ok := benches["BenchmarkStep1000Groups/"+v]
			if !ok {
				t.Errorf("BenchmarkStep1000Groups/%s missing from %s", v, cfg.gobench)
				continue
			}
			var perGroup, perSecond spread
			for _, r := range g.rounds {
				perGroup, perSecond = append(perGroup, r["cpu-us/group/s"]), append(perSecond, r["cpu-ms/s"])
			}
			brow = append(brow, []string{v, perGroup.Show(func(x float64) string { return fmt.Sprintf("%.1f us", x) }),
				perSecond.Show(func(x float64) string { return fmt.Sprintf("%.1f ms (%.1f%% of a CPU)", x, x/10) })})
		}
		b.WriteString(table([]string{"counters", "CPU per group per second", "CPU per second, 1,000 groups"}, brow))
	}
	save(t, section{Order: 7, Title: "Burst credits", Body: b.String(), Targets: targets})
}

type burstResult struct {
	run, empty, dry, refill, refillModel time.Duration
	model, got                           float64
}

// burstTrace runs one bucket size and returns the figures.
func burstTrace(t *testing.T, seconds int, base, rate int64) burstResult {
	var bc *burst.Controller
	e := newEnv(t, func(d *driver.Deps) {
		bc = burst.New(d.Throttler.(*throttle.Table), burst.Options{})
		d.Burst = bc
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { bc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	v := e.volume(gib, map[string]string{
		"writeBytesPerSecond": "8Mi", "writeBytesPerSecondBurst": "40Mi", "burstSeconds": fmt.Sprint(seconds),
	})
	uid, pod := e.pod()
	target := v.publish(uid)
	dev := v.device()
	ctr := e.container(pod, "writer")
	waitLimit(t, ctr, "write_bps_device", dev, uint64(rate))
	key := throttle.Key{VolumeID: v.id, PodUID: uid}

	limit := func() uint64 {
		l, err := e.table.Backend().ReadLimits(ctr, dev)
		if err != nil {
			t.Fatal(err)
		}
		return l.WriteBytesPerSecond
	}
	run := time.Duration(2*seconds+10) * time.Second
	if cfg.smoke {
		run = 3 * time.Second
	}
	cmd := testutil.CommandInCgroup(t, ctr, "dd", "if=/dev/zero", "of="+filepath.Join(target, "data"), "bs=1M", "count=1000", "oflag=direct")
	startBytes := counter(t, ctr, dev, true, false)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The clock starts at the writer's first bytes: starting a process on
	// a loaded machine can take a second, which is not time at the burst.
	for deadline := time.Now().Add(10 * time.Second); counter(t, ctr, dev, true, false) == startBytes; {
		if time.Now().After(deadline) {
			t.Fatal("the writer wrote nothing in 10 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	start := time.Now()
	var res burstResult
	res.run, res.empty = run, -1
	var lastBytes uint64
	var lastAt time.Duration
	capacity := float64(rate-base) * float64(seconds)
	res.dry = -1
	for {
		el := time.Since(start)
		n := counter(t, ctr, dev, true, false)
		// When the switch was due by the model applied to what the writer
		// really did (on a loaded machine it may run below the burst rate):
		// the credit down to one tick's worth at the burst rate (less 1 MiB:
		// the clock starts a moment after the controller's first sample).
		if res.dry < 0 && float64(n-startBytes)-float64(base)*el.Seconds() >= capacity-float64(rate-base)*burst.DefaultInterval.Seconds()-float64(mib) {
			res.dry = el
		}
		if res.empty < 0 && limit() == uint64(base) {
			res.empty = el
		}
		if el >= run {
			// Interpolate to the run's end from the previous sample.
			f := float64(run-lastAt) / float64(el-lastAt)
			res.got = float64(lastBytes-startBytes) + f*float64(n-lastBytes)
			break
		}
		lastBytes, lastAt = n, el
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	emptyAt := capacity / float64(rate-base)
	res.model = float64(rate)*emptyAt + float64(base)*(run.Seconds()-emptyAt)
	st, ok := e.table.Get(key)
	if !ok || st.Burst == nil {
		t.Fatalf("no burst state for %s", key)
	}
	left := st.Burst.Buckets[0].Balance
	res.refillModel = time.Duration((capacity - left) / float64(base) * float64(time.Second))
	stop := time.Now()
	for {
		st, _ := e.table.Get(key)
		if st.Burst != nil && st.Burst.Buckets[0].Full {
			res.refill = time.Since(stop)
			break
		}
		if time.Since(stop) > res.refillModel+10*time.Second {
			t.Fatalf("bucket not full %v after the writer stopped (model %v): %+v", time.Since(stop), res.refillModel, st.Burst)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("burstSeconds %d: model %.0f MiB, achieved %.1f MiB (%.3f); burst ended after %v; refilled after %v (model %v)",
		seconds, res.model/float64(mib), res.got/float64(mib), res.got/res.model, res.empty, res.refill, res.refillModel)
	if res.empty < 0 {
		t.Errorf("the kernel never went back to the baseline")
	}
	if _, err := os.Stat(target); err != nil {
		t.Fatal(err)
	}
	return res
}
