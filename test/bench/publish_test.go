//go:build bench

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/iobench"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// publishSteps is the breakdown order in the report; "other" is the rest of
// the two calls (gRPC, validation, record writes with fsync, directories).
var publishSteps = []string{"attach", "blkid", "mkfs", "mount", "mount check", "bind mount", "throttle", "other"}

var bareSteps = []string{"losetup", "mkfs", "mount"}

func TestPublishPath(t *testing.T) {
	sp := newSpans()
	e := newEnv(t, sp.wrap)
	rounds, n := coreP99Rounds(), pick(50, 3)
	params := map[string]string{"writeBytesPerSecond": "100Mi", "readIOPS": "5000"}

	// One volume of the measured kind: a fresh 1 GiB volume, staged and
	// published into a pod whose cgroup exists (kubelet makes it first).
	// Ensure's floor is taken beside every Ensure, inside the publication
	// (spans.floor): the four limit lines of its group written by hand to a
	// pod cgroup of the same kind, with the same write per file. That pod
	// cgroup is made beside the publication's own, before the volume is
	// created and staged, so that both are as old when their limits are
	// written. One made just before its writes wrote them faster (floor p50
	// 58-62 us in three runs of this section, 71-77 us in six with the
	// cgroup made beside the pod's), and Ensure's ratio measured which
	// cgroup was fresher more than Ensure.
	var floorPod string
	bareFloor := func(spec throttle.Spec) time.Duration {
		return bareLimitWrites(t, floorPod, spec.Device, spec.Limits)
	}
	publishOne := func(fs string) (create, total time.Duration, steps map[string]time.Duration) {
		uid, _ := e.pod()
		_, floorPod = e.pod()
		t0 := time.Now()
		v := e.create(gib, fs, params)
		create = time.Since(t0)
		sp.take()
		t0 = time.Now()
		v.stage(fs)
		v.publish(uid)
		steps = sp.take()
		total = time.Since(t0) - steps["floor"]
		delete(steps, "floor")
		var sum time.Duration
		for _, d := range steps {
			sum += d
		}
		steps["other"] = total - sum
		v.teardown()
		return create, total, steps
	}

	filesystems := []string{"ext4", "xfs"}
	for _, fs := range filesystems {
		publishOne(fs) // warm-up: binaries and metadata into cache
		bareSequence(t, fs, gib)
	}
	// Every round publishes n volumes of each filesystem beside as many
	// bare sequences; its ratios are taken within it. The tables below
	// pool the rounds.
	pooled := map[string]*publishSample{}
	pathRatios := map[string]spread{}
	var ensureRatios spread
	var ensures, floors []time.Duration
	for range rounds {
		var roundEnsures, roundFloors []time.Duration
		for _, fs := range filesystems {
			sp.setFloor(bareFloor)
			s := newPublishSample()
			for range n {
				c, tot, st := publishOne(fs)
				s.creates, s.totals = append(s.creates, c), append(s.totals, tot)
				for _, step := range publishSteps {
					s.steps[step] = append(s.steps[step], st[step])
				}
				btot, bst := bareSequence(t, fs, gib)
				s.bareTotals = append(s.bareTotals, btot)
				for _, step := range bareSteps {
					s.bareSteps[step] = append(s.bareSteps[step], bst[step])
				}
			}
			roundEnsures = append(roundEnsures, s.steps["throttle"]...)
			roundFloors = append(roundFloors, sp.setFloor(nil)...)
			pathRatios[fs] = append(pathRatios[fs], float64(quantile(s.totals, 0.5))/float64(quantile(s.bareTotals, 0.5)))
			if pooled[fs] == nil {
				pooled[fs] = newPublishSample()
			}
			pooled[fs].add(s)
		}
		ensureRatios = append(ensureRatios, float64(quantile(roundEnsures, 0.99))/float64(quantile(roundFloors, 0.99)))
		ensures, floors = append(ensures, roundEnsures...), append(floors, roundFloors...)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "NodeStageVolume + NodePublishVolume of a fresh 1 GiB volume (limits: 100 MiB/s writes, 5000 read IOPS, pod scope; "+
		"the pod cgroup exists, as kubelet makes it before mounting volumes), through CSI calls on the driver's unix socket, "+
		"beside the bare sequence `losetup --direct-io=on` + `mkfs` (same options as mount-utils: ext4 `-F -m0`, xfs `-f`) + `mount` "+
		"of a sparse file of the same size, interleaved in the same run. The steps are timed by wrapping the driver's injected "+
		"dependencies; \"other\" is the rest of the two calls (gRPC, validation, volume record writes with fsync). "+
		"CreateVolume (the sparse backing file and its record) is shown apart: it is not part of the kubelet's mount path. "+
		"%d rounds of %d volumes of each filesystem; a target's ratio is taken within each round, and the tables pool the rounds.\n\n", rounds, n)
	var summary [][]string
	var targets []target
	for _, fs := range filesystems {
		s := pooled[fs]
		p50, bare50 := quantile(s.totals, 0.5), quantile(s.bareTotals, 0.5)
		summary = append(summary, []string{fs, fmt.Sprint(len(s.totals)), ms(p50), ms(quantile(s.totals, 0.99)), ms(bare50),
			ms(quantile(s.bareTotals, 0.99)), pathRatios[fs].Show(times), ms(quantile(s.creates, 0.5))})
		var sr [][]string
		for _, step := range publishSteps {
			sr = append(sr, []string{step, ms(quantile(s.steps[step], 0.5)), ms(quantile(s.steps[step], 0.99))})
		}
		for _, step := range bareSteps {
			sr = append(sr, []string{"bare " + step, ms(quantile(s.bareSteps[step], 0.5)), ms(quantile(s.bareSteps[step], 0.99))})
		}
		fmt.Fprintf(&b, "Breakdown, %s (p50, p99 over %d volumes):\n\n%s\n", fs, len(s.totals), table([]string{"step", "p50", "p99"}, sr))
		targets = append(targets, target{
			What: fmt.Sprintf("publish path (stage+publish, %s) vs bare losetup+mkfs+mount", fs), Goal: "<= 1.2x",
			Measured: fmt.Sprintf("%s (pooled p50 %s vs %s)", pathRatios[fs].Show(times), ms(p50), ms(bare50)), Verdict: iobench.SpreadAtMost(pathRatios[fs], 1.2),
		})
	}
	b.WriteString("Totals (p50 ÷ bare: the median of the rounds' ratios, with their range):\n\n")
	b.WriteString(table([]string{"fs", "volumes", "csi-blkio p50", "csi-blkio p99", "bare p50", "bare p99", "p50 ÷ bare", "CreateVolume p50"}, summary))

	th99, fl99 := quantile(ensures, 0.99), quantile(floors, 0.99)
	fmt.Fprintf(&b, "\nThe throttle core's own share (Ensure inside NodePublishVolume, both filesystems, %d calls): p50 %s, p99 %s, max %s. "+
		"Its floor, the same four limit lines written by hand into a pod cgroup of the same kind, made beside the pod's own "+
		"before the volume was created and staged, so that both cgroups are as old when their limits go in, "+
		"beside each Ensure inside the same NodePublishVolume (before the call and after it in turn): p50 %s, p99 %s. "+
		"Ensure's p99 ÷ its floor's p99, within each round of %d calls: %s.\n",
		len(ensures), us(quantile(ensures, 0.5)), us(th99), us(quantile(ensures, 1)), us(quantile(floors, 0.5)), us(fl99),
		len(filesystems)*n, ensureRatios.Show(times))
	targets = append(targets, target{
		What: "throttle core inside NodePublishVolume (Ensure) vs the bare limit writes, p99", Goal: "<= 1.5x",
		Measured: fmt.Sprintf("%s (pooled p99 %s vs %s)", ensureRatios.Show(times), us(th99), us(fl99)), Verdict: iobench.SpreadAtMost(ensureRatios, 1.5),
	})

	serial, concurrent := publishConcurrency(t, e, pick(50, 4), params)
	fmt.Fprintf(&b, "\n%d fresh ext4 volumes staged and published one after the other: %s in all; all %d at once (one goroutine each, "+
		"one gRPC connection): %s, %s of the serial time.\n", pick(50, 4), ms(serial), pick(50, 4), ms(concurrent), ratio(float64(concurrent)/float64(serial)))
	save(t, section{Order: 3, Title: "Publish path", Body: b.String(), Targets: targets})
}

// publishSample is the timings of a run of publications of one filesystem
// and of the bare sequences beside them.
type publishSample struct {
	creates, totals, bareTotals []time.Duration
	steps, bareSteps            map[string][]time.Duration
}

func newPublishSample() *publishSample {
	return &publishSample{steps: map[string][]time.Duration{}, bareSteps: map[string][]time.Duration{}}
}

func (p *publishSample) add(o *publishSample) {
	p.creates = append(p.creates, o.creates...)
	p.totals = append(p.totals, o.totals...)
	p.bareTotals = append(p.bareTotals, o.bareTotals...)
	for k, v := range o.steps {
		p.steps[k] = append(p.steps[k], v...)
	}
	for k, v := range o.bareSteps {
		p.bareSteps[k] = append(p.bareSteps[k], v...)
	}
}

// bareSequence attaches, formats and mounts a sparse file of size with the
// plain tools, timing each, then undoes it (untimed).
func bareSequence(t *testing.T, fs string, size int64) (time.Duration, map[string]time.Duration) {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "csiblkio-test-bare.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(dir, "csiblkio-test-mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	steps := map[string]time.Duration{}
	run := func(step, name string, args ...string) string {
		start := time.Now()
		out, err := exec.Command(name, args...).CombinedOutput()
		steps[step] += time.Since(start)
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	mkfs := []string{"mkfs.ext4", "-F", "-m0"}
	if fs == "xfs" {
		mkfs = []string{"mkfs.xfs", "-f"}
	}
	start := time.Now()
	dev := run("losetup", "losetup", "--direct-io=on", "-f", "--show", img)
	t.Cleanup(func() { undoBare(t, dev, img, mnt) }) // after a failure below; finds nothing otherwise
	run("mkfs", mkfs[0], append(mkfs[1:], dev)...)
	run("mount", "mount", "-t", fs, dev, mnt)
	total := time.Since(start)
	undoBare(t, dev, img, mnt)
	return total, steps
}

// undoBare unmounts mnt if it is mounted and detaches dev if it is still
// bound to img: never another test's device that reused the number.
func undoBare(t *testing.T, dev, img, mnt string) {
	t.Helper()
	for _, m := range drivertest.MountsUnder(t, filepath.Dir(mnt)) {
		if out, err := exec.Command("umount", m).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", m, err, out)
		}
	}
	for _, d := range drivertest.LoopsBackedUnder(t, filepath.Dir(img)) {
		if d != dev {
			t.Errorf("unexpected loop device %s backed by %s", d, filepath.Dir(img))
		}
		if out, err := exec.Command("losetup", "-d", d).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v\n%s", d, err, out)
		}
	}
}

// publishConcurrency stages and publishes n fresh volumes one after the
// other, then n others all at once, and returns both wall times.
func publishConcurrency(t *testing.T, e *env, n int, params map[string]string) (serial, concurrent time.Duration) {
	t.Helper()
	batch := func() ([]*vol, []string) {
		var vs []*vol
		var uids []string
		for range n {
			uid, _ := e.pod()
			vs, uids = append(vs, e.create(gib, "ext4", params)), append(uids, uid)
		}
		return vs, uids
	}
	one := func(v *vol, uid string) error {
		if err := v.tryStage("ext4"); err != nil {
			return err
		}
		_, err := v.tryPublish(uid)
		return err
	}
	vs, uids := batch()
	start := time.Now()
	for i, v := range vs {
		if err := one(v, uids[i]); err != nil {
			t.Fatal(err)
		}
	}
	serial = time.Since(start)
	for _, v := range vs {
		v.teardown()
	}

	vs, uids = batch()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start = time.Now()
	for i, v := range vs {
		wg.Go(func() { errs[i] = one(v, uids[i]) })
	}
	wg.Wait()
	concurrent = time.Since(start)
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, v := range vs {
		v.teardown()
	}
	return serial, concurrent
}

// bareLimitWrites times writing the four v1 limit lines of limits for dev
// into a pod cgroup by hand, then drops them again (untimed): the kernel's
// part of what Ensure does for a pod-scope group. The paths and lines are
// put together before the clock starts, so that the floor times the system
// calls alone (OSFS.WriteFile allocates nothing).
func bareLimitWrites(t *testing.T, pod string, dev throttle.Device, limits throttle.Limits) time.Duration {
	t.Helper()
	var paths [4]string
	for i, knob := range throttle.V1Knobs {
		paths[i] = filepath.Join(pod, string(knob))
	}
	lines := func(es [4]throttle.V1Entry) (ls [4][]byte) {
		for i, e := range es {
			ls[i] = []byte(e.String())
		}
		return ls
	}
	write := func(ls [4][]byte) {
		for i := range ls {
			if err := (throttle.OSFS{}).WriteFile(paths[i], ls[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	set, unset := lines(throttle.V1Entries(dev, limits)), lines(throttle.V1Entries(dev, throttle.Limits{}))
	start := time.Now()
	write(set)
	took := time.Since(start)
	write(unset)
	return took
}
