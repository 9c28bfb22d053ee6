//go:build bench

package bench

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// accLevel is one volume configuration: the same limit on reads and
// writes, measured through a pod-scope and a volume-scope volume and by
// hand on a bare cgroup.
type accLevel struct {
	name   string
	params map[string]string // StorageClass parameters (without scope)
	limits map[string]uint64 // the same limits for the bare cgroup, by file
	limit  float64           // bytes/s or IO/s
	iops   bool
	file   int64 // data file size
	rows   []accRow
}

// accRow is one row of a level: a fio job, and what the file it writes
// holds before it starts.
type accRow struct {
	job
	// layout "" is the level's data file, written in full beforehand (the
	// IO overwrites written blocks). The other two ask whether ext4's own
	// work makes a throttled direct writer wait — once a row read 0.078
	// of its limit: "unwritten", a fresh file of fallocated (unwritten)
	// extents that ext4 converts as each write completes; "new", a fresh
	// empty file that every write extends, allocating blocks.
	layout string
}

func (r accRow) name() string {
	switch r.layout {
	case "unwritten":
		return fmt.Sprintf("%s %s, unwritten extents", r.rw, r.bs)
	case "new":
		return fmt.Sprintf("%s %s, new file", r.rw, r.bs)
	}
	return fmt.Sprintf("%s %s", r.rw, r.bs)
}

// file prepares the row's file in dir (for the level's data file, dataFile
// itself) and returns it with a function that removes what it made.
func (r accRow) file(t *testing.T, dir, dataFile string, round int) (string, func()) {
	t.Helper()
	if r.layout == "" {
		return dataFile, func() {}
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d", r.layout, round))
	if r.layout == "unwritten" {
		if out, err := exec.Command("fallocate", "-l", fmt.Sprint(r.size), path).CombinedOutput(); err != nil {
			t.Fatalf("fallocate %s: %v\n%s", path, err, out)
		}
	}
	return path, func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

func accLevels() []accLevel {
	var out []accLevel
	bpsLevels := pick([]int64{1, 10, 50, 200}, []int64{10})
	for _, l := range bpsLevels {
		b := uint64(l * mib)
		bs := bsFor(l * mib)
		file := pick(min(256*mib, max(32*mib, 4*l*mib)), 16*mib)
		out = append(out, accLevel{
			name:   fmt.Sprintf("%d MiB/s", l),
			params: map[string]string{"readBytesPerSecond": fmt.Sprintf("%dMi", l), "writeBytesPerSecond": fmt.Sprintf("%dMi", l)},
			limits: map[string]uint64{"read_bps_device": b, "write_bps_device": b},
			limit:  float64(b), file: file,
			rows: []accRow{{job: job{rw: "write", bs: bs, depth: 8, size: file}}, {job: job{rw: "read", bs: bs, depth: 8, size: file}}},
		})
	}
	// The lowest level also writes into unwritten extents and a new file
	// (fio told not to preallocate it).
	for _, layout := range []string{"unwritten", "new"} {
		w := out[0].rows[0]
		w.layout, w.extra = layout, []string{"--fallocate=none"}
		out[0].rows = append(out[0].rows, w)
	}
	for _, n := range pick([]uint64{100, 1000}, nil) {
		file := 64 * mib
		out = append(out, accLevel{
			name:   fmt.Sprintf("%d IOPS", n),
			params: map[string]string{"readIOPS": fmt.Sprint(n), "writeIOPS": fmt.Sprint(n)},
			limits: map[string]uint64{"read_iops_device": n, "write_iops_device": n},
			limit:  float64(n), iops: true, file: file,
			rows: []accRow{{job: job{rw: "randwrite", bs: "4k", depth: 8, size: file}}, {job: job{rw: "randread", bs: "4k", depth: 8, size: file}}},
		})
	}
	return out
}

// bsFor picks a block size that gives ~128 IOs per second at a limit, so
// that one IO more or less in the window is well under 1% of the figure.
func bsFor(limit int64) string {
	bs := int64(4 * kib)
	for bs*2 <= limit/128 && bs < mib {
		bs *= 2
	}
	if bs >= mib {
		return "1M"
	}
	return fmt.Sprintf("%dk", bs/kib)
}

// accScope is one published volume of a level, with the container cgroup
// its IO comes from.
type accScope struct {
	ctr, data string
	dev       throttle.Device
}

func TestAccuracy(t *testing.T) {
	e := newEnv(t, nil)
	window, ramp := pick(2*time.Second, 500*time.Millisecond), pick(time.Second, 300*time.Millisecond)
	bare := newBareLoop(t, gib)
	bareData := fill(t, filepath.Join(bare.mnt, "data"), pick(256*mib, 16*mib))

	// reading is one round of a row: achieved/limit through a pod-scope
	// and a volume-scope volume and on the bare kernel, back to back.
	// A reading's in-flight figures are what its device held on average
	// over the window (see deviceBound); buffered rounds leave them 0.
	type reading struct {
		pod, volume, kernel                   float64
		podInFlight, volInFlight, kerInFlight float64
	}
	type row struct {
		io, limit    string
		kept, marked []reading
	}
	// A round whose bare kernel reached under 0.95 of the limit says the
	// disk was slower than the limit at that moment (the machine is
	// shared), not how well the limit holds: it is measured again, up to
	// twice per row, then marked and kept out of the medians. In the
	// direct rows a bare kernel more than 3% over the limit was disturbed
	// too: it read 0.997-1.017 otherwise (164 of 174 rounds in four runs
	// on this machine), and over that its window caught the burst a
	// throttle lets out after a stall of the disk, or lost a dispatch
	// round's edge.
	// A direct round with a reading the device could not carry (any of
	// the three: they run seconds apart, and the shared disk slows for
	// one as for another) compares disk speeds too, not accuracy.
	bufferedDisturbed := func(r reading) bool { return r.kernel < 0.95 }
	var depth int            // the direct row's
	var boundReadings [3]int // pod, volume, kernel
	directDisturbed := func(r reading) bool {
		bound := false
		for i, q := range []float64{r.podInFlight, r.volInFlight, r.kerInFlight} {
			if deviceBound(q, depth) {
				boundReadings[i]++
				bound = true
			}
		}
		return bound || r.kernel < 0.95 || r.kernel > 1.03
	}
	var rows, buffered []row
	retries := 0
	for _, lv := range accLevels() {
		scopes := map[string]accScope{}
		for _, scope := range []string{"pod", "volume"} {
			params := map[string]string{"scope": scope}
			for k, v := range lv.params {
				params[k] = v
			}
			v := e.volume(gib, params)
			data := fill(t, filepath.Join(v.staging, "data"), lv.file)
			uid, pod := e.pod()
			target := v.publish(uid)
			ctr := e.container(pod, "ctr-io")
			for f, n := range lv.limits {
				waitLimit(t, ctr, f, v.device(), n)
			}
			scopes[scope] = accScope{ctr: ctr, data: filepath.Join(target, filepath.Base(data)), dev: v.device()}
		}
		bareCg := e.bareCgroup(bare.dev, lv.limits)
		for _, j := range lv.rows {
			j := j
			j.runtime, j.ramp = window, ramp
			depth = j.depth
			io := j.name()
			// The three readings of a round run back to back, each round
			// in another order, so that none always runs first.
			kept, marked, retried := iobench.Rounds(cfg.rounds, retryRounds(), func(i int) reading {
				var r reading
				pod, vol := scopes["pod"], scopes["volume"]
				at := func(cgroup, data string, dev throttle.Device) (float64, float64) {
					file, done := j.file(t, filepath.Dir(data), data, i)
					defer done()
					perSecond, inFlight := rate(t, cgroup, file, dev, j.job, lv.iops)
					return perSecond / lv.limit, inFlight
				}
				inTurn(i,
					func() { r.pod, r.podInFlight = at(pod.ctr, pod.data, pod.dev) },
					func() { r.kernel, r.kerInFlight = at(bareCg, bareData, bare.dev) },
					func() { r.volume, r.volInFlight = at(vol.ctr, vol.data, vol.dev) })
				t.Logf("%s at %s, round %d: pod %.4f volume %.4f kernel %.4f (in flight at the device: %.1f %.1f %.1f)",
					io, lv.name, i+1, r.pod, r.volume, r.kernel, r.podInFlight, r.volInFlight, r.kerInFlight)
				return r
			}, directDisturbed)
			retries += retried
			rows = append(rows, row{io: io, limit: lv.name, kept: kept, marked: marked})
		}
		if !lv.iops {
			// Buffered writeback: bytes over the time to the end of the
			// fsync, each round in another order. Both writers' limits
			// stand from before their level's first IO, as a volume's do
			// from its publish: the bare cgroup is the direct rows' one,
			// and the bare device's root-level entry goes in a settle time
			// ahead (see settledRootLimit).
			n := int64(math.Max(1, lv.limit*pick(2.5, 0.5)/float64(mib)))
			io := fmt.Sprintf("buffered write %d MiB + fsync", n)
			lift := settledRootLimit(t, bare.dev, lv.limits["write_bps_device"])
			kept, marked, retried := iobench.Rounds(cfg.rounds, retryRounds(), func(i int) reading {
				var r reading
				inTurn(i,
					func() { r.kernel = bufferedWrite(t, bareCg, filepath.Join(bare.mnt, "buffered"), n) / lv.limit },
					func() {
						r.volume = bufferedWrite(t, scopes["volume"].ctr, filepath.Join(filepath.Dir(scopes["volume"].data), "buffered"), n) / lv.limit
					})
				t.Logf("%s at %s, round %d: volume %.4f kernel %.4f", io, lv.name, i+1, r.volume, r.kernel)
				return r
			}, bufferedDisturbed)
			lift()
			retries += retried
			buffered = append(buffered, row{io: io, limit: lv.name, kept: kept, marked: marked})
		}
		for _, s := range scopes { // the level's volumes go before the next level's come
			testutil.RemoveCgroupV1(t, s.ctr)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Achieved/limit through csi-blkio volumes (real driver over CSI, loop device with direct IO, ext4, limits placed by "+
		"the throttle core on the container cgroup below a kubelet-style pod cgroup) beside the same limit written by hand "+
		"on a bare cgroup for a bare direct-IO loop device with ext4 (\"kernel\"), same run, same fio job (libaio, direct IO, "+
		"iodepth 8; block size chosen for ~128 IOs/s at the limit). Achieved = what the kernel dispatched from the IO's cgroup "+
		"(its blkio.throttle.io_service_bytes / io_serviced) over about %v, after a %v ramp: fio's own bandwidth counts the IOs "+
		"in flight at the end of its ramp and reads ~1.5%% high at these rates. The window runs from the start of one of the "+
		"throttle's dispatch rounds to the start of another: blk-throttle hands out a slice's budget at once (100 ms on these "+
		"rotational loop devices; measured at 100 IOPS: the counter steps by 10 IOs every ~100 ms and stands still between), so "+
		"a window that began and ended anywhere held one step more or less by the phase of the slices alone, ±5%% of a 2 s "+
		"window, and two such readings side by side missed 1%% by chance. Both sides mount ext4 with `%s` (see the notes). "+
		"The last two columns are the ratio of ratios: 1.000 means csi-blkio is exactly as accurate as the bare kernel.\n\n", window, ramp, quietExt4)
	var tr [][]string
	worst, within, total, bound, markedRounds := 0.0, 0, 0, 0, 0
	worstAt := ""
	var judged []iobench.Part // every direct cell, judged by the interval of its median
	var kernelAll spread
	// figures are one scope's figures of a row, a value per round: its
	// achieved/limit and its ratio to the bare kernel of the same round. A
	// row whose every round was disturbed gives its marked rounds, to be
	// shown and left out of the verdict (deviceBound).
	figures := func(r row, get func(reading) float64) (got, rr spread, deviceBound bool) {
		rounds := r.kept
		if len(rounds) == 0 {
			rounds, deviceBound = r.marked, true
		}
		for _, x := range rounds {
			got, rr = append(got, get(x)), append(rr, get(x)/x.kernel)
		}
		return got, rr, deviceBound
	}
	// cells renders one scope's figures of a direct row, medians with
	// their range, and judges the ratio against the target (SpreadWithin).
	cells := func(r row, name string, get func(reading) float64) (string, string) {
		got, rr, deviceBound := figures(r, get)
		if deviceBound {
			bound++
			return got.Show(ratio), rr.Show(ratio) + " (device-bound)"
		}
		total++
		m := rr.Median()
		if math.Abs(m-1) <= 0.01 {
			within++
		}
		at := fmt.Sprintf("%s at %s, %s scope", r.io, r.limit, name)
		if d := math.Abs(m - 1); d > worst {
			worst, worstAt = d, at
		}
		judged = append(judged, iobench.Part{Name: at, Verdict: iobench.SpreadWithin(rr, 1, 0.01)})
		return got.Show(ratio), rr.Show(ratio)
	}
	kernelCell := func(r row) string {
		var k spread
		for _, x := range r.kept {
			k = append(k, x.kernel)
		}
		markedRounds += len(r.marked)
		if len(k) == 0 {
			for _, x := range r.marked {
				k = append(k, x.kernel)
			}
		}
		s := k.Show(ratio)
		if len(r.marked) > 0 {
			s += fmt.Sprintf(", %d round(s) marked", len(r.marked))
		}
		return s
	}
	podOf, volOf := func(x reading) float64 { return x.pod }, func(x reading) float64 { return x.volume }
	for _, r := range rows {
		pod, podK := cells(r, "pod", podOf)
		vol, volK := cells(r, "volume", volOf)
		tr = append(tr, []string{r.io, r.limit, pod, vol, kernelCell(r), podK, volK})
		for _, x := range r.kept {
			kernelAll = append(kernelAll, x.kernel)
		}
	}
	b.WriteString(table([]string{"direct IO", "limit", "pod scope", "volume scope", "kernel", "pod ÷ kernel", "volume ÷ kernel"}, tr))
	b.WriteString("\nBuffered writes then fsync (`dd conv=fsync` in the container cgroup; bytes over the time to the end of the fsync; " +
		fmt.Sprintf("median of %d rounds with the range, each round in another order), volume scope.", cfg.rounds) + " Baseline: the limit by hand on a bare cgroup plus a root-level entry for the bare device (v1 flushes " +
		"writeback from the root cgroup), which is what csi-blkio's volume scope places on v1, both written well before the " +
		"writes (a limit written less than a throttle slice before the IO lets it run ahead: 1-3.5% faster at 50-200 MiB/s, " +
		"measured here). On v1 the writer's fsync " +
		"IO (charged to its container, under the container's entry) and the flusher threads' writeback (root cgroup, under " +
		"the root-level entry) draw on two separate budgets — v1 has no aggregate — so a buffered writer can exceed the " +
		"limit, up to twice it, on both sides alike; the ratio of ratios compares how far.\n\n")
	tr = nil
	// Buffered rows are held to v1's bound, twice the limit; their ratio
	// of ratios is shown (see the text below the table).
	var bufJudged []iobench.Part
	var bufWorst, bufRatios spread
	for _, r := range buffered {
		got, rr, deviceBound := figures(r, volOf)
		volK := rr.Show(ratio)
		if deviceBound {
			volK += " (device-bound)"
		} else {
			bufJudged = append(bufJudged, iobench.Part{Name: r.io + " at " + r.limit, Verdict: iobench.SpreadAtMost(got, 2)})
			if len(bufWorst) == 0 || got.Median() > bufWorst.Median() {
				bufWorst = got
			}
			bufRatios = append(bufRatios, rr...)
		}
		tr = append(tr, []string{r.io, r.limit, got.Show(ratio), kernelCell(r), volK})
	}
	var fastestKernel spread // the bare kernel in the last row, the fastest level's
	if n := len(buffered); n > 0 {
		for _, x := range buffered[n-1].kept {
			fastestKernel = append(fastestKernel, x.kernel)
		}
	}
	b.WriteString(table([]string{"IO", "limit", "volume scope", "kernel", "volume ÷ kernel"}, tr))
	fmt.Fprintf(&b, "\nThe buffered rows' ratio of ratios is shown, not held to 1%%: how much of the writeback the flusher takes "+
		"(the second budget) changes from one round to the next on both sides alike — in this run the bare kernel alone read %s "+
		"of the limit over the rounds of the fastest row — so what a volume is held to here is v1's bound, twice the limit.\n",
		rangeOf(fastestKernel, "none"))
	held := rangeOf(kernelAll, "no round kept")
	fmt.Fprintf(&b, "\nEvery cell is the median of %d rounds with the range over them; a ratio of ratios is taken within each round "+
		"(csi-blkio and the bare kernel back to back, each round in another order) before its median. The bare kernel held "+
		"the limit to %s in the rounds kept (1.000-1.006 on a quiet machine). A round whose bare kernel reached less "+
		"than 0.95 of the limit was disturbed — the disk did not deliver the limit at that moment, so the round compares disk "+
		"speeds, not accuracy — and so was a direct row's whose bare kernel read more than 1.03 (the burst a throttle lets out "+
		"after a stall of the disk), or any of whose three readings found the device, not the throttle, holding the IO back: "+
		"its loop device had half or more of fio's queue depth in flight on average over the window (/sys/dev/block/MAJ:MIN/stat, "+
		"time in queue), where a throttle that holds the IO keeps it queued above the device (device-bound readings in this "+
		"run: pod %d, volume %d, kernel %d). Such a round was measured again, up to twice per row (%d retries in this run); a "+
		"round still disturbed is marked and kept out of the medians (%d marked), and a row with no round left is shown but "+
		"left out of the verdict (%d such cells).\n", cfg.rounds, held, boundReadings[0], boundReadings[1], boundReadings[2],
		retries, markedRounds, bound)
	b.WriteString("\nThe lowest level's rows \"unwritten extents\" and \"new file\" write into a freshly fallocated file (ext4 " +
		"converts each extent to written as the IO completes, in a journal handle) and into a new empty file (every write " +
		"allocates blocks), with fio told not to preallocate. They test whether ext4's own work, done by kernel threads " +
		"outside the writer's throttled cgroup, makes a throttled direct writer wait: it would read under the overwrite row. " +
		"An earlier version of this harness once read 0.078 of the limit for write 8k at 1 MiB/s, pod scope, beside a bare " +
		"kernel at 1.000: it took the csi-blkio readings and their retries first and the bare kernel's some ten seconds " +
		"later, and the bare kernel itself had read 0.03-0.31 of the limit in that row — the shared disk stalled for those " +
		"seconds. Every round now takes the three readings back to back and keeps its ratio of ratios within the round.\n")
	b.WriteString("\nNote: a fresh ext4 volume initialises its inode tables in the background (ext4lazyinit: ~16 MiB on 1 GiB, " +
		"a few seconds after the mount), from the root cgroup. With `scope: volume` on v1 the root-level entry throttles that " +
		"IO too, so it takes its share of the volume's writeback budget in the first seconds (at 1 MiB/s: ~16 s). That is " +
		"why these rows mount with `" + quietExt4 + "`; a StorageClass can set it in `mountOptions`.\n")
	bufMeasured := "no row kept"
	if len(bufWorst) > 0 {
		bufMeasured = fmt.Sprintf("worst %s of the limit; ratio to the bare kernel %s over all rounds (a figure)", bufWorst.Show(ratio), rangeOf(bufRatios, "none"))
	}
	save(t, section{Order: 1, Title: "Accuracy: achieved/limit, csi-blkio vs the bare kernel", Body: b.String(), Targets: []target{{
		What: "accuracy through csi-blkio vs the bare kernel, direct IO (ratio of ratios)", Goal: "within 1% on every row",
		Measured: fmt.Sprintf("%d of %d within 1%% (medians of %d rounds); worst %.1f%% off (%s); %d device-bound cells left out", within, total, cfg.rounds, worst*100, worstAt, bound),
		Verdict:  iobench.Worst(judged...),
	}, {
		What: "buffered write + fsync through a volume-scope volume (v1: the writer's and the flusher's budgets)", Goal: "at most 2x the limit",
		Measured: bufMeasured,
		Verdict:  iobench.Worst(bufJudged...),
	}}})
}

// rangeOf is "min-max" of s to three places, or empty when s is.
func rangeOf(s spread, empty string) string {
	if len(s) == 0 {
		return empty
	}
	return fmt.Sprintf("%.3f-%.3f", s.Min(), s.Max())
}

// rate runs j from cgroup and returns what the kernel dispatched for dev
// from that cgroup per second (bytes, or IOs when ios) over about
// j.runtime, starting after j.ramp, and how many IOs dev held in flight on
// average over that window (see deviceBound).
//
// The window runs from one dispatch round of the throttle to another, not
// between two instants of the clock. blk-throttle hands out its budget a
// slice at a time (100 ms on a rotational queue, as loop devices on this
// machine are): at 100 IOPS the cgroup's counter steps by 10 IOs about
// every 100 ms and stands still in between. A window of fixed length that
// starts and ends anywhere holds 20 or 21 such steps of 2 s, so a reading
// lands on 1.000 or 1.050 (or 0.950) of the limit by the phase of the slices
// alone: the ±5% that made the ratio of two such readings miss 1%. Counting
// from the start of one round to the start of another holds whole slices.
func rate(t *testing.T, cgroup, file string, dev throttle.Device, j job, ios bool) (perSecond, inFlight float64) {
	t.Helper()
	window, ramp := j.runtime, j.ramp
	// Still running at the second edge: each edge comes within half a
	// second.
	j.ramp, j.runtime = 0, ramp+window+1200*time.Millisecond
	write := strings.Contains(j.rw, "write")
	r := startFio(t, cgroup, file, j)
	time.Sleep(ramp)
	c1, t1 := dispatchEdge(t, cgroup, dev, write, ios)
	q1 := deviceStat(t, dev, statTimeInQueue)
	time.Sleep(time.Until(t1.Add(window - 50*time.Millisecond)))
	c2, t2 := dispatchEdge(t, cgroup, dev, write, ios)
	q2 := deviceStat(t, dev, statTimeInQueue)
	r.wait()
	took := t2.Sub(t1)
	return float64(c2-c1) / took.Seconds(), float64(q2-q1) / float64(took.Milliseconds())
}

// deviceBound says whether a reading measured the device rather than the
// throttle: dev held half or more of the job's queue depth in flight, on
// average over the window. A throttle that holds the IO keeps it in its
// own queue, above the device, and hands out a slice's budget at once, so
// the device sees bursts with pauses between; a device slower than the
// limit has every IO the job keeps queued in flight all the time. Measured
// here, direct writes of 1M at iodepth 8 under a 200 MiB/s limit: 0.6-2.1
// in flight while the host disk carried the limit (ten windows), 7.8-9.6
// while another writer on the host disk held the loop device to 0.16-0.34
// of it (three).
func deviceBound(inFlight float64, depth int) bool {
	return inFlight >= float64(depth)/2
}

// dispatchEdge polls the cgroup's counter until a dispatch round starts
// and returns what the counter held just before, with when it moved: the
// midpoint between the last reading that saw the old value and the first
// that saw the new one. A round starts where the counter moves after
// standing still for a tenth of a slice (so that the middle of a round,
// whose IOs go out over a few milliseconds, is not taken for its start).
// An edge seen across a gap of more than 2 ms (the poller lost its CPU on
// this busy machine) is not trusted: it waits for the next. After half a
// second (five slices) without a trusted edge (a counter that moves
// continuously, or not at all) it returns a plain reading.
func dispatchEdge(t *testing.T, cgroup string, dev throttle.Device, write, ios bool) (uint64, time.Time) {
	t.Helper()
	const quiet, maxGap = 10 * time.Millisecond, 2 * time.Millisecond
	deadline := time.Now().Add(500 * time.Millisecond)
	last, lastAt := sampleCounter(t, cgroup, dev, write, ios)
	stillSince := lastAt
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Microsecond)
		c, at := sampleCounter(t, cgroup, dev, write, ios)
		if c == last {
			lastAt = at
			continue
		}
		if at.Sub(lastAt) <= maxGap && lastAt.Sub(stillSince) >= quiet {
			return last, lastAt.Add(at.Sub(lastAt) / 2)
		}
		last, lastAt, stillSince = c, at, at
	}
	t.Logf("%s: no dispatch round found within 0.5 s; a plain reading", cgroup)
	return sampleCounter(t, cgroup, dev, write, ios)
}

// sampleCounter reads counter with the time it held: the middle of a read
// bracketed by two clock readings less than a millisecond apart. On a busy
// machine the reader can lose the CPU between a read and a clock reading;
// a tenth of a second lost so shifts a 2 s window by 5%.
func sampleCounter(t *testing.T, cgroup string, dev throttle.Device, write, ios bool) (uint64, time.Time) {
	t.Helper()
	for try := 0; ; try++ {
		before := time.Now()
		c := counter(t, cgroup, dev, write, ios)
		after := time.Now()
		if d := after.Sub(before); d < time.Millisecond || try == 20 {
			return c, before.Add(d / 2)
		}
	}
}

// bufferedWrite writes n MiB through the page cache from inside cgroup and
// fsyncs; it returns bytes per second up to the end of the fsync.
func bufferedWrite(t *testing.T, cgroup, file string, n int64) float64 {
	t.Helper()
	cmd := testutil.CommandInCgroup(t, cgroup, "dd", "if=/dev/zero", "of="+file, "bs=1M", fmt.Sprint("count=", n), "conv=fsync", "status=none")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dd in %s: %v\n%s", cgroup, err, out)
	}
	rate := float64(n*mib) / time.Since(start).Seconds()
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	return rate
}

// settledRootLimit places a write limit for the bare device (which is ours
// alone) on the root cgroup, where v1 charges the flusher's writeback, and
// returns when the limit has settled; the func it returns lifts it (the
// test's cleanup lifts it too, should the test stop first).
//
// Settled means a throttle slice (100 ms here) has passed since the write.
// Writing a limit starts a slice, and IO that arrives within it is granted
// the budget of the time since: a limit written just before a buffered
// write lets it run ahead. Measured here (dd of 125 MiB at 50 MiB/s and of
// 500 MiB at 200 MiB/s, the cgroup's and root's limits written just before
// the dd or a second ahead, four rounds each): the median write ran 1% and
// 3.5% faster with the fresh limits. csi-blkio's limits stand from the
// publish on, so a baseline written just before each write would read as
// the less accurate side of every buffered row.
func settledRootLimit(t *testing.T, dev throttle.Device, bps uint64) (lift func()) {
	t.Helper()
	root := filepath.Join(testutil.BlkioV1, "blkio.throttle.write_bps_device")
	lift = func() { writeLimit(t, root, dev, 0) }
	t.Cleanup(lift)
	writeLimit(t, root, dev, bps)
	time.Sleep(250 * time.Millisecond)
	return lift
}

// inTurn runs take in turn, starting with the round's own: round i starts
// with take[i mod len], so that no candidate always runs first.
func inTurn(round int, take ...func()) {
	for k := range take {
		take[(k+round)%len(take)]()
	}
}
