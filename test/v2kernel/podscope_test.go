//go:build v2kernel && linux

package v2kernel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestPodScopeHoldsContainerCreatedAfterEnsure runs the throttle table on
// the real kernel for both kubelet cgroup drivers: Ensure puts the limit on
// the pod's cgroup, a container that appears afterwards is held by it (v2
// is hierarchical), the stats worker counts the container's bytes in the
// group, and Remove lifts the limit.
func TestPodScopeHoldsContainerCreatedAfterEnsure(t *testing.T) {
	requireV2Kernel(t)
	for _, layout := range []kubeletLayout{cgroupfsLayout, systemdLayout} {
		t.Run(layout.Name, func(t *testing.T) {
			const limit, total = 8 << 20, 24 << 20
			loop := attachLoop(t, 64<<20)
			tree := newKubeletTree(t, layout)
			uid := newPodUID(t)
			pod := tree.pod(t, uid)
			table := startGroups(t, tree)

			key := throttle.Key{VolumeID: "csiblkio-test-vol", PodUID: uid}
			spec := throttle.Spec{
				Device: loop.Device,
				Limits: throttle.Limits{WriteBytesPerSecond: limit},
				Scope:  throttle.ScopePod,
				Pod:    throttle.PodRef{UID: uid, Name: "writer", Namespace: "default"},
			}
			phase, err := table.Ensure(context.Background(), key, spec)
			if err != nil || phase == throttle.PhaseDegraded {
				t.Fatalf("Ensure = %s, %v; want the pod's cgroup found", phase, err)
			}
			st, _ := table.Get(key)
			if st.PodCgroup != pod || !slices.Equal(st.Cgroups, []string{pod}) {
				t.Errorf("status: pod cgroup %q, entries on %v; want %s, [%s]", st.PodCgroup, st.Cgroups, pod, pod)
			}
			requireV2Status(t, st, "one budget for all IO of the pod")
			// Invariant 3: the limit is in the kernel when Ensure returns.
			want := fmt.Sprintf("%s rbps=max wbps=%d riops=max wiops=max", loop.Device, limit)
			if got := cgroupLine(t, pod, "io.max", loop.Device); got != want {
				t.Fatalf("after Ensure the pod's io.max line is %q, want %q", got, want)
			}

			res := runIO(t, tree.container(t, pod), ioJob{Path: loop.Path, Bytes: total, Block: 1 << 20, Direct: true})
			t.Logf("%s: container of a pod limited to %d MiB/s wrote %d MiB directly at %.2f MiB/s (%.2f s)",
				layout.Name, limit>>20, total>>20, res.MiBPerSecond(), res.Seconds)
			if got, least := seconds(res.Seconds), lowerBound(total, limit); got < least {
				t.Errorf("the container wrote %d MiB in %v, want at least %v", total>>20, got, least)
			}
			st = waitForGroup(t, table, key, "the container's bytes in the group's stats", func(st throttle.GroupStatus) bool {
				return !st.Stats.Pending && st.Stats.WriteBytes >= total
			})
			if st.Phase != throttle.PhaseActive || st.StatsCgroup != pod {
				t.Errorf("after sampling: phase %s, stats from %q; want Active, from %s", st.Phase, st.StatsCgroup, pod)
			}

			if err := table.Remove(context.Background(), key); err != nil {
				t.Fatal(err)
			}
			if got := cgroupLine(t, pod, "io.max", loop.Device); got != "" {
				t.Errorf("after Remove the pod's io.max still holds %q", got)
			}
			if _, found := table.Get(key); found {
				t.Error("the group is still in the table after Remove")
			}
		})
	}
}

// TestPodScopeDegradedUntilPodCgroupAppears: when the pod's cgroup is not
// there at publish time, the volume is not left unthrottled: the limit goes
// on kubepods (Degraded), and once kubelet creates the pod cgroup the
// worker moves it there and lifts the fallback.
func TestPodScopeDegradedUntilPodCgroupAppears(t *testing.T) {
	requireV2Kernel(t)
	loop := attachLoop(t, 16<<20)
	tree := newKubeletTree(t, cgroupfsLayout)
	table := startGroups(t, tree)
	uid := newPodUID(t)
	key := throttle.Key{VolumeID: "csiblkio-test-vol", PodUID: uid}
	limits := throttle.Limits{WriteIOPS: 100}
	entry := loop.Device.String() + " rbps=max wbps=max riops=max wiops=100"

	phase, err := table.Ensure(context.Background(), key, throttle.Spec{
		Device: loop.Device, Limits: limits, Scope: throttle.ScopePod, Pod: throttle.PodRef{UID: uid}})
	if err != nil || phase != throttle.PhaseDegraded {
		t.Fatalf("Ensure without a pod cgroup = %s, %v; want Degraded", phase, err)
	}
	if got := cgroupLine(t, tree.Kubepods, "io.max", loop.Device); got != entry {
		t.Fatalf("degraded: kubepods' io.max line is %q, want the fallback %q", got, entry)
	}

	pod := tree.pod(t, uid)
	waitForGroup(t, table, key, "placement on the pod cgroup", func(st throttle.GroupStatus) bool {
		return st.Phase != throttle.PhaseDegraded && st.PodCgroup == pod
	})
	if got := cgroupLine(t, pod, "io.max", loop.Device); got != entry {
		t.Errorf("promoted: the pod's io.max line is %q, want %q", got, entry)
	}
	if got := cgroupLine(t, tree.Kubepods, "io.max", loop.Device); got != "" {
		t.Errorf("promoted: the fallback on kubepods is still there: %q", got)
	}
	if err := table.Remove(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

// requireV2Status checks that a group's status says what the user is told:
// the v2 backend on the real mount, and what one budget covers (v1 would say
// each container has its own).
func requireV2Status(t *testing.T, st throttle.GroupStatus, semantics string) {
	t.Helper()
	if st.BackendVersion != 2 || !strings.HasPrefix(st.Backend, "cgroup v2 at "+cgroupRoot+" ") {
		t.Errorf("the group's status names backend v%d %q, want v2 at %s", st.BackendVersion, st.Backend, cgroupRoot)
	}
	if !strings.Contains(st.Semantics, semantics) {
		t.Errorf("the group's status says its budget covers %q, want %q", st.Semantics, semantics)
	}
}
