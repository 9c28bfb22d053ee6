//go:build v2kernel && linux

package v2kernel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestReadbackRestoresIOMax: the stats worker's readback on the real io.max.
// Behind the table's back the pod's io.max line is first removed (all knobs
// max drops it, as a runtime re-creating the cgroup would leave it) and
// then changed to another limit; each time the worker's next sweeps (every
// 200 ms) find it and write the group's line again, and the group's readback
// counts the repair and holds.
func TestReadbackRestoresIOMax(t *testing.T) {
	requireV2Kernel(t)
	const limit = 8 << 20
	loop := attachLoop(t, 64<<20)
	tree := newKubeletTree(t, cgroupfsLayout)
	uid := newPodUID(t)
	pod := tree.pod(t, uid)
	table := startGroups(t, tree)
	key := throttle.Key{VolumeID: "csiblkio-test-readback", PodUID: uid}
	if _, err := table.Ensure(context.Background(), key, throttle.Spec{
		Device: loop.Device, Limits: throttle.Limits{WriteBytesPerSecond: limit}, Scope: throttle.ScopePod,
		Pod: throttle.PodRef{UID: uid, Name: "writer", Namespace: "default"},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { table.Remove(context.Background(), key) })
	want := fmt.Sprintf("%s rbps=max wbps=%d riops=max wiops=max", loop.Device, limit)
	waitForGroup(t, table, key, "a first readback", func(st throttle.GroupStatus) bool { return st.Readback.Holds() })

	for i, tamper := range []string{
		loop.Device.String() + " rbps=max wbps=max riops=max wiops=max",
		loop.Device.String() + " wbps=1073741824 riops=100",
	} {
		if err := os.WriteFile(filepath.Join(pod, "io.max"), []byte(tamper), 0); err != nil {
			t.Fatal(err)
		}
		if got := cgroupLine(t, pod, "io.max", loop.Device); got == want {
			t.Fatalf("the tampering %q did not change io.max", tamper)
		}
		st := waitForGroup(t, table, key, fmt.Sprintf("repair %d", i+1), func(st throttle.GroupStatus) bool {
			return st.Readback.Repairs == uint64(i+1) && st.Readback.Holds()
		})
		if got := cgroupLine(t, pod, "io.max", loop.Device); got != want {
			t.Errorf("after repair %d the pod's io.max line is %q, want %q", i+1, got, want)
		}
		t.Logf("repair %d: %v", i+1, st.Readback.Repaired)
	}
	if n := table.Repairs(); n != 2 {
		t.Errorf("table repairs %d, want 2", n)
	}
}
