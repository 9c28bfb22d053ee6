//go:build bench

package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	rows   []job
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
			rows: []job{{rw: "write", bs: bs, depth: 8, size: file}, {rw: "read", bs: bs, depth: 8, size: file}},
		})
	}
	for _, n := range pick([]uint64{100, 1000}, nil) {
		file := 64 * mib
		out = append(out, accLevel{
			name:   fmt.Sprintf("%d IOPS", n),
			params: map[string]string{"readIOPS": fmt.Sprint(n), "writeIOPS": fmt.Sprint(n)},
			limits: map[string]uint64{"read_iops_device": n, "write_iops_device": n},
			limit:  float64(n), iops: true, file: file,
			rows: []job{{rw: "randwrite", bs: "4k", depth: 8, size: file}, {rw: "randread", bs: "4k", depth: 8, size: file}},
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

	type row struct {
		io, limit           string
		pod, volume, kernel float64 // achieved / limit
	}
	var rows []row
	var buffered []row
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
		for _, j := range lv.rows {
			j.runtime, j.ramp = window, ramp
			// A reading well under the limit says the disk was slower than
			// the limit at that moment (the machine is shared), not how
			// well the limit holds: it is taken again, up to twice. A
			// reading over the limit is never retried.
			got := func(cgroup, file string, dev throttle.Device) float64 {
				for try := 0; ; try++ {
					r := rate(t, cgroup, file, dev, j, lv.iops) / lv.limit
					if r >= 0.97 || try == 2 {
						return r
					}
					retries++
					t.Logf("%s %s at %s: %.3f of the limit, the disk was slower: again", j.rw, j.bs, lv.name, r)
				}
			}
			pod := got(scopes["pod"].ctr, scopes["pod"].data, scopes["pod"].dev)
			kernel := got(e.bareCgroup(bare.dev, lv.limits), bareData, bare.dev)
			volume := got(scopes["volume"].ctr, scopes["volume"].data, scopes["volume"].dev)
			io := fmt.Sprintf("%s %s", j.rw, j.bs)
			rows = append(rows, row{io: io, limit: lv.name, pod: pod, volume: volume, kernel: kernel})
			t.Logf("%s at %s: pod %.4f volume %.4f kernel %.4f", io, lv.name, pod, volume, kernel)
		}
		if !lv.iops {
			// Buffered writeback is noisier than direct IO: medians.
			n := int64(math.Max(1, lv.limit*pick(2.5, 0.5)/float64(mib)))
			var csi, kernel []float64
			for range cfg.reps {
				csi = append(csi, bufferedWrite(t, scopes["volume"].ctr, filepath.Join(filepath.Dir(scopes["volume"].data), "buffered"), n)/lv.limit)
				kernel = append(kernel, bareBufferedWrite(t, e, bare, lv, n)/lv.limit)
			}
			buffered = append(buffered, row{io: fmt.Sprintf("buffered write %d MiB + fsync", n), limit: lv.name, volume: median(csi), kernel: median(kernel)})
			t.Logf("buffered at %s: volume %.4f kernel %.4f (medians of %v and %v)", lv.name, median(csi), median(kernel), csi, kernel)
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
		"(its blkio.throttle.io_service_bytes / io_serviced) over %v, after a %v ramp: fio's own bandwidth counts the IOs "+
		"in flight at the end of its ramp and reads ~1.5%% high at these rates. Both sides mount ext4 with `%s` (see the notes). "+
		"The last two columns are the ratio of ratios: 1.000 means csi-blkio is exactly as accurate as the bare kernel.\n\n", window, ramp, quietExt4)
	var tr [][]string
	worst, within, total, bound := 0.0, 0, 0, 0
	worstAt := ""
	kmin, kmax := math.Inf(1), math.Inf(-1)
	check := func(r row, name string, got float64) string {
		rr := got / r.kernel
		if r.kernel < 0.95 {
			bound++
			return ratio(rr) + " (device-bound)"
		}
		total++
		if math.Abs(rr-1) <= 0.01 {
			within++
		}
		if d := math.Abs(rr - 1); d > worst {
			worst, worstAt = d, fmt.Sprintf("%s at %s, %s scope", r.io, r.limit, name)
		}
		if got < 0.5 || got > 1.5 {
			t.Errorf("%s at %s, %s scope: achieved/limit %.3f while the bare kernel held %.3f", r.io, r.limit, name, got, r.kernel)
		}
		return ratio(rr)
	}
	for _, r := range rows {
		tr = append(tr, []string{r.io, r.limit, ratio(r.pod), ratio(r.volume), ratio(r.kernel), check(r, "pod", r.pod), check(r, "volume", r.volume)})
		kmin, kmax = math.Min(kmin, r.kernel), math.Max(kmax, r.kernel)
	}
	b.WriteString(table([]string{"direct IO", "limit", "pod scope", "volume scope", "kernel", "pod ÷ kernel", "volume ÷ kernel"}, tr))
	b.WriteString("\nBuffered writes then fsync (`dd conv=fsync` in the container cgroup; bytes over the time to the end of the fsync; " +
		fmt.Sprintf("median of %d, interleaved), volume scope.", cfg.reps) + " Baseline: the limit by hand on a bare cgroup plus a root-level entry for the bare device (v1 flushes " +
		"writeback from the root cgroup), which is what csi-blkio's volume scope places on v1. On v1 the writer's fsync " +
		"IO (charged to its container, under the container's entry) and the flusher threads' writeback (root cgroup, under " +
		"the root-level entry) draw on two separate budgets — v1 has no aggregate — so a buffered writer can exceed the " +
		"limit, up to twice it, on both sides alike; the ratio of ratios compares how far.\n\n")
	tr = nil
	for _, r := range buffered {
		tr = append(tr, []string{r.io, r.limit, ratio(r.volume), ratio(r.kernel), check(r, "volume", r.volume)})
	}
	b.WriteString(table([]string{"IO", "limit", "volume scope", "kernel", "volume ÷ kernel"}, tr))
	fmt.Fprintf(&b, "\nThe bare kernel held direct IO to %.3f-%.3f of the limit in this run (issue 9: 1.000-1.006 on a quiet machine). "+
		"A row whose bare kernel reached less than 0.95 of the limit is device-bound — the disk did not deliver the limit at "+
		"that moment, so the row compares disk speeds, not accuracy — and is left out of the verdict (%d such cells). "+
		"A direct-IO reading under 0.97 of the limit was taken again, up to twice, for the same reason (%d retries in this run).\n", kmin, kmax, bound, retries)
	b.WriteString("\nNote: a fresh ext4 volume initialises its inode tables in the background (ext4lazyinit: ~16 MiB on 1 GiB, " +
		"a few seconds after the mount), from the root cgroup. With `scope: volume` on v1 the root-level entry throttles that " +
		"IO too, so it takes its share of the volume's writeback budget in the first seconds (at 1 MiB/s: ~16 s). That is " +
		"why these rows mount with `" + quietExt4 + "`; a StorageClass can set it in `mountOptions`.\n")
	verdict := "met"
	if worst > 0.01 {
		verdict = fmt.Sprintf("missed: %d of %d within 1%%, worst off by %.1f%%", within, total, worst*100)
	}
	save(t, section{Order: 1, Title: "Accuracy: achieved/limit, csi-blkio vs the bare kernel", Body: b.String(), Targets: []target{{
		What: "accuracy through csi-blkio vs the bare kernel (ratio of ratios)", Goal: "within 1% on every row",
		Measured: fmt.Sprintf("%d of %d within 1%%; worst %.1f%% off (%s); %d device-bound cells left out", within, total, worst*100, worstAt, bound),
		Verdict:  verdict,
	}}})
}

// rate runs j from cgroup and returns what the kernel dispatched for dev
// from that cgroup per second (bytes, or IOs when ios) over j.runtime,
// starting after j.ramp.
func rate(t *testing.T, cgroup, file string, dev throttle.Device, j job, ios bool) float64 {
	t.Helper()
	window, ramp := j.runtime, j.ramp
	j.ramp, j.runtime = 0, ramp+window+300*time.Millisecond // still running at the second sample
	write := strings.Contains(j.rw, "write")
	r := startFio(t, cgroup, file, j)
	time.Sleep(ramp)
	c1, t1 := sampleCounter(t, cgroup, dev, write, ios)
	time.Sleep(window)
	c2, t2 := sampleCounter(t, cgroup, dev, write, ios)
	r.wait()
	return float64(c2-c1) / t2.Sub(t1).Seconds()
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

// bareBufferedWrite is bufferedWrite on the bare loop device with the
// level's write limit on a bare cgroup and on the root cgroup for the bare
// device (which is ours alone), lifted again afterwards.
func bareBufferedWrite(t *testing.T, e *env, bare bareLoop, lv accLevel, n int64) float64 {
	t.Helper()
	root := filepath.Join(testutil.BlkioV1, "blkio.throttle.write_bps_device")
	writeLimit(t, root, bare.dev, lv.limits["write_bps_device"])
	defer writeLimit(t, root, bare.dev, 0)
	return bufferedWrite(t, e.bareCgroup(bare.dev, lv.limits), filepath.Join(bare.mnt, "buffered"), n)
}
