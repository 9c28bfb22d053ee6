//go:build v2kernel && linux

package v2kernel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/elastic"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestElasticControllerOnV2: the elastic controller over the real io.max
// and io.stat of a v2 kernel. Two volumes (loop devices with direct IO) on
// one "disk" (an ext4 on a loop device: the VM has no disk); the
// aggressor's pod-scope limit is lifted from its pod's io.max while the
// protected victim is quiet, and is back while the victim writes.
func TestElasticControllerOnV2(t *testing.T) {
	requireV2Kernel(t)
	disk, vols := volumesOnDisk(t, "victim", "aggressor")
	vVol, aVol := vols[0], vols[1]
	tree := newKubeletTree(t, cgroupfsLayout)
	vUID, aUID := newPodUID(t), newPodUID(t)
	vPod, aPod := tree.pod(t, vUID), tree.pod(t, aUID)
	table := startGroups(t, tree)

	const limit = 8 << 20
	specs := map[throttle.Key]throttle.Spec{
		// The smallest target: under software emulation every IO misses it.
		{VolumeID: "victim", PodUID: vUID}: {Device: vVol.Device, Scope: throttle.ScopePod, Pod: throttle.PodRef{UID: vUID},
			LatencyTarget: 100 * time.Microsecond},
		{VolumeID: "aggressor", PodUID: aUID}: {Device: aVol.Device, Scope: throttle.ScopePod, Pod: throttle.PodRef{UID: aUID},
			Limits: throttle.Limits{WriteBytesPerSecond: limit}, Elastic: true},
	}
	for k, s := range specs {
		if _, err := table.Ensure(context.Background(), k, s); err != nil {
			t.Fatal(err)
		}
	}
	heldLine := fmt.Sprintf("%s rbps=max wbps=%d riops=max wiops=max", aVol.Device, limit)
	held := func() bool { return cgroupLine(t, aPod, "io.max", aVol.Device) == heldLine }
	if !held() {
		t.Fatalf("after Ensure the aggressor's io.max line is %q, want %q", cgroupLine(t, aPod, "io.max", aVol.Device), heldLine)
	}

	c := elastic.New(table, elastic.SysDisks{}, elastic.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	aKey := throttle.Key{VolumeID: "aggressor", PodUID: aUID}

	waitFor := func(what string, want bool) time.Duration {
		t.Helper()
		start := time.Now()
		for held() != want {
			if time.Since(start) > 10*time.Second {
				st, _ := c.State(aKey)
				t.Fatalf("waited 10 s for %s; io.max line %q, controller state %+v", what, cgroupLine(t, aPod, "io.max", aVol.Device), st)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor("the lift while the victim is quiet", false)
	if st, _ := c.State(aKey); st.Disk != disk.Device.String() {
		t.Errorf("the controller put the aggressor on disk %q, want %s (the device under its backing file)", st.Disk, disk.Device)
	}

	// The victim writes from a container: the limit is back while it does.
	// A poller beside the writer notes when (it makes no t calls: it is
	// not the test's goroutine).
	heldAt := make(chan time.Time, 1)
	stop := make(chan struct{})
	go func() {
		for {
			if b, err := os.ReadFile(filepath.Join(aPod, "io.max")); err == nil && strings.Contains(string(b), heldLine) {
				heldAt <- time.Now()
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	res := runIO(t, tree.container(t, vPod), ioJob{Path: vVol.Path, Bytes: 4 << 20, Block: 4 << 10, Direct: true})
	end := time.Now()
	close(stop)
	var at time.Time
	select {
	case at = <-heldAt:
	default:
	}
	if at.IsZero() || at.After(end) {
		st, _ := c.State(aKey)
		t.Fatalf("the aggressor was not held while the victim wrote for %v; controller state %+v", end.Sub(start), st)
	}
	st, _ := c.State(throttle.Key{VolumeID: "victim", PodUID: vUID})
	t.Logf("held %v after the victim's writer started (its 4 MiB took %.1f s; its mean IO time %v, target %v)",
		at.Sub(start), res.Seconds, st.Latency, st.Target)
	waitFor("the lift after the victim went quiet", false)
}
