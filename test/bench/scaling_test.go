//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestScaling quotes the throttle core's and the stats worker's Go
// benchmarks (run by hack/bench before this test) and measures the plugin's
// memory with 0 and 1,000 groups.
func TestScaling(t *testing.T) {
	var b strings.Builder
	var targets []target
	if cfg.gobench == "" {
		b.WriteString("The Go benchmarks of the throttle core and the stats worker were not run (smoke mode or no -bench.gobench).\n\n")
	} else {
		benches, err := parseGoBench(cfg.gobench)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, goBenchTables(t, &b, benches)...)
	}
	if cfg.binary == "" {
		b.WriteString("Plugin RSS: not measured (no -bench.binary).\n")
	} else {
		groups := pick(1000, 20)
		m := measureRSS(t, groups)
		fmt.Fprintf(&b, "Plugin memory: the real `csi-blkio serve` binary (standalone, `--stats-interval 1s`), VmRSS from "+
			"/proc/<pid>/status when idle and after %d groups: %d block volumes of 16 MiB (no mkfs, to keep it cheap), each "+
			"published into %d pods (pod scope, 100 MiB/s writes) whose cgroups have one container each, so every group holds a "+
			"watch and a container entry and is sampled by the stats worker; read after %v of sweeps. Publishing them took %s "+
			"(%s per publication, serial).\n\n",
			groups, m.volumes, groups/m.volumes, m.settle, ms(m.publish), ms(m.publish/time.Duration(groups)))
		b.WriteString(table([]string{"groups", "VmRSS", "VmHWM"}, [][]string{
			{"0", kibStr(m.rss0), kibStr(m.hwm0)},
			{fmt.Sprint(groups), kibStr(m.rssN), kibStr(m.hwmN)},
		}))
		targets = append(targets, target{
			What: fmt.Sprintf("plugin RSS at %d groups", groups), Goal: "<= 50 MiB",
			Measured: fmt.Sprintf("%s (idle: %s)", kibStr(m.rssN), kibStr(m.rss0)), Verdict: verdictAtMost(float64(m.rssN), 50*1024),
		})
	}
	save(t, section{Order: 4, Title: "Scaling", Body: b.String(), Targets: targets})
}

// bareWrites quotes the kernel's own cost of the limit writes of Ensure.
func bareWrites(get func(name, unit string) float64) string {
	const name = "BenchmarkEnsure/v1/bare-writes"
	return fmt.Sprintf("mean %s, p50 %.0f us, p99 %.0f us", us(time.Duration(get(name, "ns/op"))), get(name, "p50-us"), get(name, "p99-us"))
}

// goBenchTables renders the core's benchmarks with their baselines.
func goBenchTables(t *testing.T, b *strings.Builder, bs map[string]goBench) []target {
	get := func(name, unit string) float64 {
		v, ok := bs[name].metrics[unit]
		if !ok {
			t.Errorf("go benchmark %s %s missing from %s", name, unit, cfg.gobench)
		}
		return v
	}
	var targets []target
	b.WriteString("Throttle core: `Ensure` of a new group with n groups already in the table (`BenchmarkEnsure`, internal/throttle: real v1 " +
		"hierarchy and loop device — pod lookup, inotify watch, limit writes, one readdir — each call timed for p50/p99), and the " +
		"table's own cost without file IO (`BenchmarkEnsureTableOnly`, null cgroup fs). Its floor, in the same run: the four " +
		"limit lines such a group needs, written by hand to a pod cgroup (`BenchmarkEnsure/v1/bare-writes`), " +
		bareWrites(get) + ".\n\n")
	var rows [][]string
	var p99max float64
	for _, n := range []int{10, 1000, 10000} {
		name := fmt.Sprintf("BenchmarkEnsure/v1/groups=%d", n)
		p99 := get(name, "p99-us")
		p99max = max(p99max, p99)
		rows = append(rows, []string{fmt.Sprint(n), us(time.Duration(get(name, "ns/op"))), fmt.Sprintf("%.0f us", get(name, "p50-us")),
			fmt.Sprintf("%.0f us", p99), fmt.Sprintf("%.2f us", get(fmt.Sprintf("BenchmarkEnsureTableOnly/groups=%d", n), "ns/op")/1e3)})
	}
	b.WriteString(table([]string{"groups", "Ensure mean", "p50", "p99", "table only, mean"}, rows))
	flat := get("BenchmarkEnsure/v1/groups=10000", "ns/op") / get("BenchmarkEnsure/v1/groups=10", "ns/op")
	targets = append(targets,
		target{What: "throttle core Ensure, 10,000 vs 10 groups", Goal: "flat (read here as <= 1.25x)",
			Measured: times(flat), Verdict: verdictAtMost(flat, 1.25)},
		target{What: "throttle core Ensure p99 (real v1, 10 to 10,000 groups)", Goal: "<= 100 us",
			Measured: fmt.Sprintf("worst p99 %.0f us (the bare limit writes alone: p99 %.0f us)", p99max, get("BenchmarkEnsure/v1/bare-writes", "p99-us")),
			Verdict:  verdictAtMost(p99max, 100)})

	b.WriteString("\nStats worker: one sync per group (reconcile the pod's containers, read the group's two entries back from the kernel " +
		"and compare them with the table, read and parse the two recursive stat files, compute, install; `BenchmarkSyncPerGroup`, " +
		"internal/statsworker, real v1) beside the readback alone, a bare read of the two stat files, and a bare read of every file " +
		"a sync must read (the two stat files and the four limit files of each entry), its floor.\n\n")
	rows = nil
	var worst float64
	for _, n := range []int{1, 100, 1000, 10000} {
		get1 := func(what string) float64 {
			return get(fmt.Sprintf("BenchmarkSyncPerGroup/%s/groups=%d", what, n), "ns/op")
		}
		s, rb, r, all := get1("sync"), get1("readback"), get1("bare-read"), get1("bare-read-all")
		worst = max(worst, s/all)
		rows = append(rows, []string{fmt.Sprint(n), us(time.Duration(s)), us(time.Duration(rb)), us(time.Duration(r)), us(time.Duration(all)), times(s / all)})
	}
	b.WriteString(table([]string{"groups", "sync per group", "readback", "bare read (stats)", "bare read (all)", "sync / bare read (all)"}, rows))
	targets = append(targets, target{What: "stats sweep per group vs a bare read of the files it reads", Goal: "<= 1.5x",
		Measured: "worst " + times(worst), Verdict: verdictAtMost(worst, 1.5)})

	const win = "BenchmarkV1ContainerLimitWindow"
	p99 := get(win, "p99-ms")
	fmt.Fprintf(b, "\nv1 unthrottled window of a new container (mkdir of its cgroup until its limit is readable, `%s`, %.0f containers): "+
		"p50 %.2f ms, p99 %.2f ms, max %.2f ms.\n\n", win, get(win, "containers"), get(win, "p50-ms"), p99, get(win, "max-ms"))
	targets = append(targets, target{What: "v1 unthrottled window of a new container", Goal: "<= 10 ms p99",
		Measured: fmt.Sprintf("p99 %.2f ms", p99), Verdict: verdictAtMost(p99, 10)})
	return targets
}

type rssFigures struct {
	rss0, hwm0, rssN, hwmN uint64 // KiB
	volumes                int
	publish, settle        time.Duration
}

// measureRSS runs the real binary and creates groups publications.
func measureRSS(t *testing.T, groups int) rssFigures {
	parent := testutil.NewCgroupParentV1(t)
	base := t.TempDir()
	state, sock := filepath.Join(base, testutil.Prefix+"-state"), filepath.Join(base, "csi.sock")
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
	logf, err := os.Create(filepath.Join(cfg.out, "plugin.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(cfg.binary, "serve", "--endpoint", "unix://"+sock, "--node-id", "csiblkio-test-node",
		"--state-dir", state, "--kubelet-cgroup-root", "/"+parent, "--stats-interval", "1s")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	waitSocket(t, sock, exited)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctrl, node := csi.NewControllerClient(conn), csi.NewNodeClient(conn)
	ctx := context.Background()

	var m rssFigures
	time.Sleep(time.Second)
	m.rss0, m.hwm0 = procMem(t, cmd.Process.Pid)

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
	waitLimit(t, lastCtr, "write_bps_device", deviceOfBlock(t, pubs[len(pubs)-1].target), 100*uint64(mib))
	m.settle = pick(3*time.Second, time.Second)
	time.Sleep(m.settle)
	m.rssN, m.hwmN = procMem(t, cmd.Process.Pid)

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

func waitSocket(t *testing.T, sock string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("csi-blkio exited before serving: %v (see %s)", err, filepath.Join(cfg.out, "plugin.log"))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("csi-blkio did not create %s within 10 s", sock)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deviceOfBlock is the device a block publication's target is bound to.
func deviceOfBlock(t *testing.T, target string) throttle.Device {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(target, &st); err != nil {
		t.Fatal(err)
	}
	return throttle.Device{Major: unix.Major(st.Rdev), Minor: unix.Minor(st.Rdev)}
}

// procMem reads VmRSS and VmHWM (KiB) of pid.
func procMem(t *testing.T, pid int) (rss, hwm uint64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	if rss == 0 {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm
}

func kibStr(k uint64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }
