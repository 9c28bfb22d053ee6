//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/iobench"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestScaling quotes the throttle core's and the stats worker's Go
// benchmarks (run by hack/bench before this test) and measures the plugin's
// memory with 0 and 1,000 groups.
func TestScaling(t *testing.T) {
	var b strings.Builder
	var targets []target
	var benches map[string]goBench
	if cfg.gobench == "" {
		b.WriteString("The Go benchmarks of the throttle core and the stats worker were not run (smoke mode or no -bench.gobench).\n\n")
	} else {
		var err error
		if benches, err = parseGoBench(cfg.gobench); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, goBenchTables(t, &b, benches)...)
	}
	if cfg.binary == "" {
		b.WriteString("Plugin RSS: not measured (no -bench.binary).\n")
	} else {
		groups := pick(1000, 20)
		m := measureRSS(t, groups)
		fmt.Fprintf(&b, "Plugin memory and CPU: the real `csi-blkio serve` binary linked as the image links it (`-ldflags \"-s -w\"`; "+
			"its pages dropped from the page cache before it starts, as on a node that has not run it yet), standalone, "+
			"`--stats-interval %v`. Memory from /proc/<pid>/status when idle and after %d groups: %d block volumes of 16 MiB "+
			"(no mkfs, to keep it cheap), each published into %d pods (pod scope, 100 MiB/s writes) whose cgroups have one "+
			"container each, so every group holds a watch and a container entry and is sampled by the stats worker. RssFile is "+
			"the binary's own pages mapped from the page cache; RssAnon is the heap, stacks and runtime. Publishing took %s "+
			"(%s per publication, serial). CPU: the process's user+system time (/proc/<pid>/stat) over %v of sweeps "+
			"(%.0f sweeps of %d groups) once all groups existed.\n\n",
			m.interval, groups, m.volumes, groups/m.volumes, ms(m.publish), ms(m.publish/time.Duration(groups)), m.settle,
			m.sweeps, groups)
		b.WriteString(table([]string{"groups", "VmRSS", "RssAnon", "RssFile", "VmHWM"}, [][]string{
			{"0", kibStr(m.idle.rss), kibStr(m.idle.anon), kibStr(m.idle.file), kibStr(m.idle.hwm)},
			{fmt.Sprint(groups), kibStr(m.full.rss), kibStr(m.full.anon), kibStr(m.full.file), kibStr(m.full.hwm)},
		}))
		perGroup := m.cpu / time.Duration(m.sweeps*float64(groups))
		// At the default interval a sweep runs 360 times an hour.
		perHour := time.Duration(float64(perGroup) * 1000 * float64(time.Hour/(10*time.Second)))
		fmt.Fprintf(&b, "\nCPU per group per sweep: %s (%v over the %v); at the default interval (10 s) and 1,000 groups: "+
			"%.1f CPU-seconds an hour, %.3f%% of one core.\n", us(perGroup), m.cpu.Round(time.Millisecond), m.settle,
			perHour.Seconds(), 100*perHour.Seconds()/3600)
		// Its floor: the thread CPU of a bare read of every file a sync
		// reads (section 4's bare-read-all benchmark at 1,000 groups).
		if bare, ok := benches["BenchmarkSyncPerGroup/bare-read-all/groups=1000"]; ok {
			var floor spread
			for _, r := range bare.rounds {
				floor = append(floor, r["cpu-us/op"])
			}
			fmt.Fprintf(&b, "Its floor, the CPU time of a bare read of every file a sync reads (`BenchmarkSyncPerGroup/bare-read-all/groups=1000`, "+
				"cpu-us/op): %.0f us per group, so a sweep in the plugin costs %s of it, the worker's queue, the Prometheus "+
				"collector and the garbage collector included.\n", floor.Median(), times(float64(perGroup)/1e3/floor.Median()))
		}
		b.WriteString("\nWhere the memory goes. Most of the RSS is the binary's own pages (RssFile): the code and data the process " +
			"touched, mapped from the page cache in the folios readahead made, so it follows the binary's size more than the " +
			"plugin's work. The binary links no Helm, no k8s.io/kubernetes and no typed clientset: the plugin's nine requests to " +
			"the core API (Pods, claims, volumes, Events) go through a REST client of its own with the core/v1 types alone " +
			"(internal/kube/core.go). With client-go's typed clientset, which brings every built-in API group's typed client, " +
			"apply configurations and OpenAPI support, the stripped binary was 52.5 MB and idled at 34.1 MiB RSS (28.6 MiB of it " +
			"the binary); without it, 28.0 MB and 22.8 MiB (19.3 MiB), same machine, same row. What is left of the binary is " +
			"mostly the core/v1 types with their protobuf code, gRPC with its TLS and HTTP/2 stack, the Prometheus client and " +
			"client-go's Event recorder (which links the strategic-merge-patch and OpenAPI models for its Event patches). " +
			"RssAnon at 1,000 groups is the Go heap (~7 MiB live, from the plugin's gctrace at 1,000 groups: the table ~3.8 KiB " +
			"and the stats ~0.5 KiB per group, the rest gRPC, informers and the runtime) plus the collector's headroom: at the " +
			"default GOGC the heap grows to twice its live size before each collection. A stats sweep allocated ~88 KiB per group " +
			"(a fresh 4 KiB buffer for each file read and each parse) until the reads went through pooled buffers and an " +
			"exact-size copy, and each file's path was joined only for an error message: ~4 KiB now (`go test -bench " +
			"BenchmarkSyncPerGroup/sync -benchmem ./internal/statsworker`), so the collector runs less often and the heap's peaks are lower.\n")
		targets = append(targets,
			target{What: "plugin RSS idle", Goal: "<= 25 MiB", Measured: fmt.Sprintf("%s (anon %s, binary %s)", kibStr(m.idle.rss), kibStr(m.idle.anon), kibStr(m.idle.file)),
				Verdict: iobench.AtMost(float64(m.idle.rss), 25*1024)},
			target{What: fmt.Sprintf("plugin RSS at %d groups", groups), Goal: "<= 40 MiB", Measured: fmt.Sprintf("%s (anon %s, binary %s)", kibStr(m.full.rss), kibStr(m.full.anon), kibStr(m.full.file)),
				Verdict: iobench.AtMost(float64(m.full.rss), 40*1024)},
			target{What: fmt.Sprintf("plugin CPU per group per sweep (%d groups)", groups), Goal: "a figure (per hour at the default 10 s interval)",
				Measured: fmt.Sprintf("%s; %.1f CPU-s/h at 1,000 groups", us(perGroup), perHour.Seconds()), Verdict: "measured"},
		)
	}
	save(t, section{Order: 4, Title: "Scaling", Body: b.String(), Targets: targets})
}

// goBenchTables renders the core's benchmarks with their baselines: every
// figure a median over the rounds (`go test -count`) with its range, every
// ratio taken within a round (the baseline ran beside it) before its median.
func goBenchTables(t *testing.T, b *strings.Builder, bs map[string]goBench) []target {
	get := func(name, unit string) spread {
		var s spread
		for _, r := range bs[name].rounds {
			if v, ok := r[unit]; ok {
				s = append(s, v)
			}
		}
		if len(s) == 0 {
			t.Fatalf("go benchmark %s %s missing from %s", name, unit, cfg.gobench)
		}
		return s
	}
	// per pairs the rounds of two figures: f of the k-th of each.
	per := func(x, y spread, f func(x, y float64) float64) spread {
		var s spread
		for k := range min(len(x), len(y)) {
			s = append(s, f(x[k], y[k]))
		}
		return s
	}
	div := func(x, y float64) float64 { return x / y }
	worstOf := func(ss ...spread) spread {
		out := slices.Clone(ss[0])
		for _, s := range ss[1:] {
			for k := range min(len(out), len(s)) {
				out[k] = max(out[k], s[k])
			}
		}
		return out
	}
	f0 := func(x float64) string { return fmt.Sprintf("%.0f", x) }
	f2 := func(x float64) string { return fmt.Sprintf("%.2f", x) }
	const bare = "BenchmarkEnsure/v1/bare-writes"
	bareP99 := get(bare, "p99-us")
	syncRounds := len(get("BenchmarkSyncPerGroup/paired/groups=1", "sync-p50-us"))
	var targets []target
	fmt.Fprintf(b, "Every figure below is the median of its rounds (one `go test -bench` run each) with the range over them: "+
		"%d rounds of `BenchmarkEnsure` and of the container window, whose figures are judged on p99s, and %d of the others. "+
		"A ratio is taken within each round, beside the baseline measured in it, before its median.\n\n", len(bareP99), syncRounds)
	b.WriteString("Throttle core: `Ensure` of a new group with n groups already in the table (`BenchmarkEnsure`, internal/throttle: real v1 " +
		"hierarchy and loop device — pod lookup by its inotify watch, the limit writes through one descriptor of the cgroup, a stat " +
		"for containers — each call timed for p50/p99), and the table's own cost without file IO (`BenchmarkEnsureTableOnly`, null " +
		"cgroup fs). Its floor: the four limit lines such a group needs, written by hand with the same write per file, each file " +
		"opened by its full path, the lines and paths put together before the clock starts: the floor allocates nothing, so a " +
		"page fault of a growing heap counts against Ensure alone, where it belongs. Both go into a pod cgroup made for the call " +
		"(untimed), " +
		"as kubelet makes one just before it mounts a pod's volumes: the first limit for a device in a cgroup makes the kernel " +
		"create that cgroup's throttle group for the device, and the first open of each file of a new cgroup looks it up afresh, " +
		"work a floor that rewrote one warm cgroup would leave to Ensure alone. The floor is timed in every iteration beside the " +
		"call, before it in one and after it in the next (the floor column), and on its own at the start of each round " +
		"(`BenchmarkEnsure/v1/bare-writes`: " +
		fmt.Sprintf("mean %s us, p50 %s us, p99 %s us).\n\n", get(bare, "ns/op").Show(func(x float64) string { return f0(x / 1e3) }),
			get(bare, "p50-us").Show(f0), bareP99.Show(f0)) +
		"The groups and cgroups of a round are removed 100 iterations at a time (so a table of n groups holds n to n+99 " +
		"while a batch is open), and the kernel's deferred teardown of the removed cgroups — work that kworkers run an RCU " +
		"grace period later — is given 50 ms before the next batch: removed one by one between iterations, it preempted " +
		"later timed calls at random, and the wall-time p99s measured which call the benchmark's own clean-up hit.\n\n")
	var rows [][]string
	var p99Ratios, cpuRatios, unqueuedRatios []spread
	for _, n := range []int{10, 1000, 10000} {
		name := fmt.Sprintf("BenchmarkEnsure/v1/groups=%d", n)
		p99, floor := get(name, "p99-us"), get(name, "floor-p99-us")
		r := per(p99, floor, div)
		p99Ratios = append(p99Ratios, r)
		cpu, cpuFloor := get(name, "cpu-p99-us"), get(name, "floor-cpu-p99-us")
		rc := per(cpu, cpuFloor, div)
		cpuRatios = append(cpuRatios, rc)
		sysCPU := get(name, "syscalls-cpu-p99-us")
		unq, unqFloor := get(name, "unqueued-p99-us"), get(name, "floor-unqueued-p99-us")
		ru := per(unq, unqFloor, div)
		unqueuedRatios = append(unqueuedRatios, ru)
		rows = append(rows, []string{fmt.Sprint(n), get(name, "ns/op").Show(func(x float64) string { return f0(x / 1e3) }),
			get(name, "p50-us").Show(f0), p99.Show(f0), floor.Show(f0), r.Show(times),
			unq.Show(f0), unqFloor.Show(f0), ru.Show(times),
			get(name, "cpu-p50-us").Show(f0), cpu.Show(f0), cpuFloor.Show(f0), rc.Show(times),
			get(name, "syscalls-cpu-p50-us").Show(f0), sysCPU.Show(f0), per(cpu, sysCPU, div).Show(times),
			get(fmt.Sprintf("BenchmarkEnsureTableOnly/groups=%d", n), "ns/op").Show(func(x float64) string { return f2(x / 1e3) })})
	}
	b.WriteString(table([]string{"groups", "Ensure mean, us", "p50, us", "p99, us", "floor p99, us", "p99 ÷ floor p99",
		"p99 less CPU wait, us", "floor's, us", "÷ floor's",
		"CPU p50, us", "CPU p99, us", "floor CPU p99, us", "CPU p99 ÷ floor CPU p99",
		"all its syscalls: CPU p50, us", "all its syscalls: CPU p99, us", "CPU p99 ÷ all its syscalls' CPU p99", "table only, mean, us"}, rows))
	b.WriteString("\nThe CPU columns time each call on the calling thread's CPU clock (user and system): the work the call " +
		"does, where the wall-clock columns also hold the time it waited for a CPU on this shared machine. The \"less CPU " +
		"wait\" columns take out of each call's wall time the time its thread sat in the run queue, runnable but without a CPU " +
		"(/proc/thread-self/schedstat around the call): what is left is the call's work and any time it blocked (on a lock, " +
		"on IO), which the CPU clock would not see. On a loaded machine the p99 of wall time is set by the few calls that lost " +
		"their CPU for a scheduler tick or more, and a call that takes longer is more often among them, so its raw wall p99 " +
		"grows by more than its work does. Beyond the four " +
		"writes, an Ensure of a pod-scope group on v1 does what its floor leaves out and the publish path needs: it finds the " +
		"pod cgroup by adding its inotify watch to each candidate path in turn (the first, for a Burstable pod of the cgroupfs " +
		"driver, as here) and stats it for containers already there " +
		"(its link count; a directory read only when it has any). The \"all its syscalls\" columns make exactly those calls by " +
		"hand, in a third fresh pod cgroup of the same iteration: what Ensure costs beyond them is the table and the Go code " +
		"around the calls.\n\n")
	flat := per(get("BenchmarkEnsure/v1/groups=10000", "ns/op"), get("BenchmarkEnsure/v1/groups=10", "ns/op"), div)
	worstP99 := worstOf(p99Ratios...)
	worstCPU := worstOf(cpuRatios...)
	groups := []string{"10 groups", "1,000 groups", "10,000 groups"}
	targets = append(targets,
		target{What: "throttle core Ensure, 10,000 vs 10 groups", Goal: "flat (read here as <= 1.25x)",
			Measured: flat.Show(times), Verdict: iobench.SpreadAtMost(flat, 1.25)},
		target{What: "throttle core Ensure p99 (real v1, 10 to 10,000 groups) vs its floor, the bare limit writes p99", Goal: "<= 1.5x",
			Measured: "worst " + worstP99.Show(times), Verdict: iobench.EachAtMost(groups, p99Ratios, 1.5)},
		target{What: "throttle core Ensure p99 less its wait for a CPU vs the bare limit writes' (the same)", Goal: "<= 1.5x",
			Measured: "worst " + worstOf(unqueuedRatios...).Show(times), Verdict: iobench.EachAtMost(groups, unqueuedRatios, 1.5)},
		target{What: "throttle core Ensure CPU p99 (thread CPU clock) vs the bare limit writes' CPU p99", Goal: "<= 1.5x",
			Measured: "worst " + worstCPU.Show(times), Verdict: iobench.EachAtMost(groups, cpuRatios, 1.5)})

	b.WriteString("Stats worker: one sync per group (reconcile the pod's containers, read the group's two entries back from the kernel " +
		"and compare them with the table, read and parse the two recursive stat files, compute, install; `BenchmarkSyncPerGroup`, " +
		"internal/statsworker, real v1) beside the readback alone, a bare read of the two stat files, and a bare read of every file " +
		"a sync must read (the two stat files and the four limit files of each entry), each opened by its full path, its floor " +
		"(a sync opens the files of one cgroup relative to one descriptor of it). The first four columns are " +
		"means of wall time per op, each from a run of its own. The ratios come from the paired run: a sync and its floor on the " +
		"same group in every iteration, the order swapped each time, every op timed on its own in wall time and in the thread's " +
		"CPU time; the wall ratio is of the medians of the ops, the CPU ratio of the means.\n\n")
	rows = nil
	var syncRatios, syncCPURatios []spread
	var gaps []spread
	for _, n := range []int{1, 100, 1000, 10000} {
		get1 := func(what, unit string) spread {
			return get(fmt.Sprintf("BenchmarkSyncPerGroup/%s/groups=%d", what, n), unit)
		}
		sy, rb, rd, all := get1("sync", "ns/op"), get1("readback", "ns/op"), get1("bare-read", "ns/op"), get1("bare-read-all", "ns/op")
		sp50, fp50 := get1("paired", "sync-p50-us"), get1("paired", "floor-p50-us")
		r := per(sp50, fp50, div)
		syncRatios = append(syncRatios, r)
		syc, allc := get1("paired", "sync-cpu-mean-us"), get1("paired", "floor-cpu-mean-us")
		rc := per(syc, allc, div)
		syncCPURatios = append(syncCPURatios, rc)
		// The paired run's wall time per op beyond its CPU time, and the
		// thread's wait in the run queue per op.
		wall, runq := get1("paired", "wall-us/op"), get1("paired", "runq-us/op")
		cpuMean := per(syc, allc, func(x, y float64) float64 { return (x + y) / 2 })
		gaps = append(gaps, per(wall, cpuMean, func(x, y float64) float64 { return x - y }))
		usOf := func(x float64) string { return f0(x / 1e3) }
		rows = append(rows, []string{fmt.Sprint(n), sy.Show(usOf), rb.Show(usOf), rd.Show(usOf), all.Show(usOf),
			sp50.Show(f0), fp50.Show(f0), r.Show(times), syc.Show(f0), allc.Show(f0), rc.Show(times),
			gaps[len(gaps)-1].Show(f0), runq.Show(f0)})
	}
	b.WriteString(table([]string{"groups", "sync, mean us", "readback, mean us", "bare read (stats), mean us", "bare read (all), mean us",
		"paired: sync p50, us", "paired: bare read (all) p50, us", "sync ÷ bare read (all), p50", "sync CPU mean, us",
		"bare read (all) CPU mean, us", "CPU: sync ÷ bare read (all)", "paired: wall - CPU per op, us", "paired: run-queue wait per op, us"}, rows))
	b.WriteString("\nOn a loaded machine the mean wall time of an op is several times its CPU time, for the sync and for its floor " +
		"alike. The last two columns say where that time goes: the thread's wait in the kernel's run queue " +
		"(/proc/thread-self/schedstat), runnable but without a CPU, accounts for the wall time beyond the CPU time. It falls on " +
		"a minority of the ops (the medians of wall and CPU time are close), so a ratio of two means taken seconds apart " +
		"compares the machine's load at two moments; the medians of paired ops compare the work.\n\n")
	worstSync := worstOf(syncRatios...)
	syncGroups := []string{"1 group", "100 groups", "1,000 groups", "10,000 groups"}
	worstSyncCPU := worstOf(syncCPURatios...)
	targets = append(targets,
		target{What: "stats sweep per group, readback included, vs a bare read of the files it reads (p50 of paired ops)", Goal: "<= 1.3x",
			Measured: "worst " + worstSync.Show(times), Verdict: iobench.EachAtMost(syncGroups, syncRatios, 1.3)},
		target{What: "stats sweep per group, readback included, vs a bare read of the files it reads, in CPU time", Goal: "<= 1.3x",
			Measured: "worst " + worstSyncCPU.Show(times), Verdict: iobench.EachAtMost(syncGroups, syncCPURatios, 1.3)})

	const win = "BenchmarkV1ContainerLimitWindow"
	p99 := get(win, "p99-ms")
	fmt.Fprintf(b, "\nv1 unthrottled window of a new container (mkdir of its cgroup until its limit is readable, `%s`, %s containers a round): "+
		"p50 %s ms, p99 %s ms, max %s ms.\n\n", win, get(win, "containers").Show(f0), get(win, "p50-ms").Show(f2), p99.Show(f2), get(win, "max-ms").Show(f2))
	targets = append(targets, target{What: "v1 unthrottled window of a new container", Goal: "<= 10 ms p99",
		Measured: "p99 " + p99.Show(f2) + " ms", Verdict: iobench.SpreadAtMost(p99, 10)})
	return targets
}

type rssFigures struct {
	idle, full      memFigures
	volumes         int
	publish, settle time.Duration
	interval        time.Duration // the plugin's --stats-interval
	cpu             time.Duration // user+system over settle
	sweeps          float64       // settle / interval
}

// memFigures are a process's memory lines from /proc/<pid>/status, KiB.
type memFigures struct{ rss, anon, file, hwm uint64 }

// measureRSS runs the real binary and creates groups publications.
func measureRSS(t *testing.T, groups int) rssFigures {
	parent := testutil.NewCgroupParentV1(t)
	base := t.TempDir()
	state := filepath.Join(base, testutil.Prefix+"-state")
	// Registered first so it runs last, after the plugin stopped: whatever
	// a failed run left below base (mounts, loop devices) goes.
	t.Cleanup(func() {
		for _, m := range drivertest.MountsUnder(t, base) {
			unix.Unmount(m, 0)
		}
		for _, d := range drivertest.LoopsBackedUnder(t, state) {
			exec.Command("losetup", "-d", d).Run()
		}
	})
	var m rssFigures
	m.interval = time.Second
	dropPageCache(t, cfg.binary)
	plugin := drivertest.StartProcess(t, cfg.binary, filepath.Join(cfg.out, "plugin.log"),
		"--node-id", "csiblkio-test-node", "--state-dir", state, "--kubelet-cgroup-root", "/"+parent,
		"--stats-interval", m.interval.String())
	conn := plugin.Dial(t)
	ctrl, node := csi.NewControllerClient(conn), csi.NewNodeClient(conn)
	ctx := context.Background()

	time.Sleep(time.Second)
	m.idle = procMem(t, plugin.Cmd.Process.Pid)

	m.volumes = max(1, groups/100)
	blockCap := &csi.VolumeCapability{
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_MULTI_WRITER},
		AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
	}
	type pub struct{ id, target string }
	var ids, stagings []string
	var pubs []pub
	var lastCtr string
	start := time.Now()
	for v := range m.volumes {
		resp, err := ctrl.CreateVolume(ctx, &csi.CreateVolumeRequest{
			Name: fmt.Sprintf("%s-rss-%d", testutil.Prefix, v), VolumeCapabilities: []*csi.VolumeCapability{blockCap},
			CapacityRange: &csi.CapacityRange{RequiredBytes: 16 * mib}, Parameters: map[string]string{"writeBytesPerSecond": "100Mi"},
		})
		if err != nil {
			t.Fatal(err)
		}
		id := resp.GetVolume().GetVolumeId()
		staging := filepath.Join(base, "staging", id)
		if _, err := node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: id, StagingTargetPath: staging, VolumeCapability: blockCap}); err != nil {
			t.Fatal(err)
		}
		ids, stagings = append(ids, id), append(stagings, staging)
		for p := range groups / m.volumes {
			uid := testutil.PodUID(v*100000 + p)
			testutil.MkdirCgroupV1(t, filepath.Join(parent, "kubepods", "burstable", "pod"+uid))
			target := filepath.Join(base, "pods", uid, id)
			if _, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{
				VolumeId: id, StagingTargetPath: staging, TargetPath: target, VolumeCapability: blockCap,
				VolumeContext: map[string]string{"csi.storage.k8s.io/pod.uid": uid},
			}); err != nil {
				t.Fatal(err)
			}
			pubs = append(pubs, pub{id, target})
			lastCtr = testutil.MkdirCgroupV1(t, filepath.Join(parent, "kubepods", "burstable", "pod"+uid, "ctr"))
		}
	}
	m.publish = time.Since(start)
	blockDevice, err := throttle.DeviceOf(pubs[len(pubs)-1].target)
	if err != nil {
		t.Fatal(err)
	}
	waitLimit(t, lastCtr, "write_bps_device", blockDevice, 100*uint64(mib))
	time.Sleep(m.interval) // the first sweep over all groups
	m.settle = pick(10*time.Second, time.Second)
	cpu0 := procCPU(t, plugin.Cmd.Process.Pid)
	time.Sleep(m.settle)
	m.cpu = procCPU(t, plugin.Cmd.Process.Pid) - cpu0
	m.sweeps = float64(m.settle) / float64(m.interval)
	m.full = procMem(t, plugin.Cmd.Process.Pid)

	for _, p := range pubs {
		if _, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: p.id, TargetPath: p.target}); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		if _, err := node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: id, StagingTargetPath: stagings[i]}); err != nil {
			t.Fatal(err)
		}
		if _, err := ctrl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// procMem reads the memory lines of pid's /proc status.
func procMem(t *testing.T, pid int) memFigures {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var m memFigures
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = v
		case "RssAnon:":
			m.anon = v
		case "RssFile:":
			m.file = v
		case "VmHWM:":
			m.hwm = v
		}
	}
	if m.rss == 0 {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	return m
}

// procCPU is pid's user+system time so far (/proc/<pid>/stat, fields 14
// and 15, in clock ticks of 10 ms: the kernel's USER_HZ on Linux).
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	rest := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(rest) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	var ticks uint64
	for _, f := range rest[11:13] { // fields 14 and 15
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/stat: %q", pid, b)
		}
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// dropPageCache evicts file's pages from the page cache, so that the
// plugin's RSS counts the binary's pages as a first start on a node reads
// them, not as the linker left them in the cache (in large folios, each
// mapped whole: measured 45 MiB idle against 32 MiB from a cold cache).
func dropPageCache(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatalf("fadvise %s: %v", file, err)
	}
}

func kibStr(k uint64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }
