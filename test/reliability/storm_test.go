package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/mount-utils"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

const (
	stormVolumes  = 20
	stormPods     = 10
	stormWorkers  = 50
	stormMaxBytes = 1 << 30
)

// stormDuration is 25 s, or CSI_BLKIO_STORM_SECONDS.
func stormDuration() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("CSI_BLKIO_STORM_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 25 * time.Second
}

// TestConcurrencyStorm: 50 goroutines publish, unpublish and expand at
// random across 20 staged volumes (xfs and raw block) and 10 pods, against
// the race-enabled binary, for a bounded time. A watchdog fails the test
// (and has the plugin dump its goroutines) when no call completes for 30 s.
// Aborted answers are expected (one operation per volume at a time) and the
// call is simply tried again later. At the end the records, the mount
// table, the loop devices, the kernel limits of every pod and container
// cgroup and the table (through the health check) agree; tearing
// everything down leaves nothing; the plugin saw no data race.
func TestConcurrencyStorm(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	limit := throttle.Limits{WriteBytesPerSecond: 32 << 20, ReadIOPS: 2000}
	params := map[string]string{"writeBytesPerSecond": "32Mi", "readIOPS": "2000"}
	uids := make([]string, stormPods)
	pods, ctrs := make([]string, stormPods), make([]string, stormPods)
	for i := range uids {
		uids[i] = testutil.PodUID(800 + i)
		pods[i] = e.podCgroup(t, uids[i])
		ctrs[i] = e.container(t, uids[i], "ctr")
	}
	vols := make([]vol, stormVolumes)
	sizes := make([]atomic.Int64, stormVolumes)
	for i := range vols {
		block := i%2 == 1
		size := int64(300 << 20) // mkfs.xfs's minimum
		pp := map[string]string{"csi.storage.k8s.io/fstype": "xfs"}
		if block {
			size, pp = 16<<20, map[string]string{}
		}
		for k, v := range params {
			pp[k] = v
		}
		vols[i] = e.createVolume(t, p, fmt.Sprintf("storm-%02d", i), size, block, pp)
		if !block {
			vols[i].fsType = "xfs"
		}
		sizes[i].Store(size)
		must(t, "NodeStageVolume", stageErr(p, vols[i]))
	}

	var ops, aborted atomic.Int64
	var done [3]atomic.Int64 // successful publish, unpublish, expand
	var mu sync.Mutex
	var unexpected []string
	var lastDone atomic.Int64
	lastDone.Store(time.Now().UnixNano())
	stop := time.Now().Add(stormDuration())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchdog := make(chan string, 1)
	go func() {
		for ctx.Err() == nil {
			time.Sleep(time.Second)
			if idle := time.Since(time.Unix(0, lastDone.Load())); idle > 30*time.Second {
				_ = p.cmd.Process.Signal(syscall.SIGQUIT) // the Go runtime dumps every goroutine to the log
				watchdog <- fmt.Sprintf("no call completed for %s: deadlock?", idle.Round(time.Second))
				cancel()
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < stormWorkers; w++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for time.Now().Before(stop) && ctx.Err() == nil {
				vi, pi := rng.IntN(stormVolumes), rng.IntN(stormPods)
				v, target := vols[vi], e.target(uids[pi], fmt.Sprintf("v%02d", vi))
				var err error
				kind := 0
				switch r := rng.IntN(100); {
				case r < 45:
					err = publishErr(p, v, uids[pi], target)
				case r < 85:
					kind, err = 1, unpublishErr(p, v, target)
				default:
					kind, err = 2, stormExpand(p, v, &sizes[vi])
				}
				ops.Add(1)
				lastDone.Store(time.Now().UnixNano())
				switch status.Code(err) {
				case codes.OK:
					done[kind].Add(1)
				case codes.Aborted:
					aborted.Add(1)
				default:
					mu.Lock()
					unexpected = append(unexpected, err.Error())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	cancel()
	select {
	case msg := <-watchdog:
		time.Sleep(time.Second)
		t.Fatalf("%s; plugin log tail:\n%s", msg, tail(p.log(t), 200))
	default:
	}
	t.Logf("%d calls in %s from %d goroutines: %d publishes, %d unpublishes, %d expansions done, %d answered Aborted",
		ops.Load(), stormDuration(), stormWorkers, done[0].Load(), done[1].Load(), done[2].Load(), aborted.Load())
	for i, u := range unexpected {
		if i == 10 {
			t.Errorf("... and %d more", len(unexpected)-10)
			break
		}
		t.Errorf("unexpected error: %s", u)
	}

	// Everything agrees.
	mis, err := mount.ParseMountInfo("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	publications := 0
	for i, v := range vols {
		r := e.record(t, v)
		dev := e.loopOf(t, v)
		if r.Staging == nil || r.Staging.Device != dev {
			t.Errorf("volume %d: record staging %+v, loop device %s", i, r.Staging, dev)
		}
		n := devNum(t, dev)
		var recorded, mounted []string
		for target := range r.Publications {
			recorded = append(recorded, target)
		}
		for _, mi := range mis {
			fsOfDev := uint32(mi.Major) == n.Major && uint32(mi.Minor) == n.Minor
			node := (mi.FsType == "devtmpfs" || mi.FsType == "tmpfs") && mi.Root == "/"+filepath.Base(dev)
			if (fsOfDev || node) && mi.MountPoint != v.staging {
				mounted = append(mounted, mi.MountPoint)
			}
		}
		sort.Strings(recorded)
		sort.Strings(mounted)
		if !slices.Equal(recorded, mounted) {
			t.Errorf("volume %d: record publishes at %v, mounted at %v", i, recorded, mounted)
		}
		publications += len(recorded)
		if st, err := os.Stat(e.backing(v)); err != nil || st.Size() != r.CapacityBytes {
			t.Errorf("volume %d: backing file %v (%v), record capacity %d", i, st.Size(), err, r.CapacityBytes)
		}
		if reasons := healthReasons(t, p, v); len(reasons) > 0 {
			t.Errorf("volume %d unhealthy: %v", i, reasons)
		}
		for pi, uid := range uids {
			want := throttle.Limits{}
			for _, pub := range r.Publications {
				if pub.Pod.UID == uid {
					want = limit
				}
			}
			wantLimits(t, pods[pi], n, want)
			wantLimits(t, ctrs[pi], n, want)
		}
	}
	t.Logf("at the end: %d publications over %d volumes, consistent: %t", publications, stormVolumes, !t.Failed())

	// Tear down: nothing is left.
	for _, v := range vols {
		r := e.record(t, v)
		for target := range r.Publications {
			must(t, "NodeUnpublishVolume", unpublishErr(p, v, target))
		}
		dev := devNum(t, e.loopOf(t, v))
		for pi := range uids {
			wantLimits(t, pods[pi], dev, throttle.Limits{})
			wantLimits(t, ctrs[pi], dev, throttle.Limits{})
		}
		must(t, "NodeUnstageVolume", unstageErr(p, v))
		must(t, "DeleteVolume", deleteErr(p, v))
	}
	e.assertNothingLeft(t)
	p.stop(t)
}

// stormExpand grows a volume by 4 MiB, controller then node, as the
// external-resizer and the kubelet do.
func stormExpand(p *plugin, v vol, size *atomic.Int64) error {
	next := size.Load() + 4<<20
	if next > stormMaxBytes {
		return nil
	}
	ctx, cancel := rpcCtx()
	defer cancel()
	cr := &csi.CapacityRange{RequiredBytes: next}
	if _, err := p.controller().ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: v.id, CapacityRange: cr}); err != nil {
		return err
	}
	size.Store(max(size.Load(), next))
	_, err := p.node().NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: v.id, VolumePath: v.staging, CapacityRange: cr,
		VolumeCapability: testutil.Cap(v.block, v.fsType)})
	return err
}
