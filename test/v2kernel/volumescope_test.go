//go:build v2kernel && linux

package v2kernel

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestVolumeScopeHoldsBufferedWritesOnKubepods: volume scope puts one budget
// on kubepods, and with the io and memory controllers on, cgroup writeback
// charges a container's buffered writes to it, so writes through the page
// cache and an fsync are held too (what v1 cannot do without a root-level
// entry).
func TestVolumeScopeHoldsBufferedWritesOnKubepods(t *testing.T) {
	requireV2Kernel(t)
	const limit, total = 8 << 20, 24 << 20
	loop := attachLoop(t, 128<<20)
	mnt := mkfsMount(t, loop.Path)
	tree := newKubeletTree(t, cgroupfsLayout)
	uid := newPodUID(t)
	pod := tree.pod(t, uid)
	table := startGroups(t, tree)

	key := throttle.Key{VolumeID: "csiblkio-test-vol", PodUID: uid}
	spec := throttle.Spec{Device: loop.Device, Limits: throttle.Limits{WriteBytesPerSecond: limit},
		Scope: throttle.ScopeVolume, Pod: throttle.PodRef{UID: uid}}
	if phase, err := table.Ensure(context.Background(), key, spec); err != nil || phase == throttle.PhaseDegraded {
		t.Fatalf("Ensure = %s, %v", phase, err)
	}
	st, _ := table.Get(key)
	if !slices.Equal(st.Cgroups, []string{tree.Kubepods}) {
		t.Errorf("volume scope entries on %v, want [%s]", st.Cgroups, tree.Kubepods)
	}
	requireV2Status(t, st, "one budget for all IO to the volume on this node, buffered writeback included")
	want := fmt.Sprintf("%s rbps=max wbps=%d riops=max wiops=max", loop.Device, limit)
	if got := cgroupLine(t, tree.Kubepods, "io.max", loop.Device); got != want {
		t.Fatalf("kubepods' io.max line is %q, want %q", got, want)
	}

	res := runIO(t, tree.container(t, pod), ioJob{
		Path: filepath.Join(mnt, "data"), Create: true, Bytes: total, Block: 1 << 20, Fsync: true})
	t.Logf("volume limited to %d MiB/s on kubepods: buffered write of %d MiB + fsync at %.2f MiB/s (%.2f s)",
		limit>>20, total>>20, res.MiBPerSecond(), res.Seconds)
	if got, least := seconds(res.Seconds), lowerBound(total, limit); got < least {
		t.Errorf("buffered write + fsync of %d MiB took %v, want at least %v", total>>20, got, least)
	}
	st = waitForGroup(t, table, key, "the writeback in the group's stats", func(st throttle.GroupStatus) bool {
		return !st.Stats.Pending && st.Stats.WriteBytes >= total
	})
	if st.StatsCgroup != tree.Kubepods {
		t.Errorf("stats from %q, want %s", st.StatsCgroup, tree.Kubepods)
	}

	if err := table.Remove(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if got := cgroupLine(t, tree.Kubepods, "io.max", loop.Device); got != "" {
		t.Errorf("after Remove kubepods' io.max still holds %q", got)
	}
}
