//go:build v2kernel && linux

package v2kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestIOMaxOnPodHoldsContainerCreatedLater is the kernel fact the v2 backend
// builds on: io.max on a kubelet-style pod cgroup holds a container leaf that
// appears after the limit was written (hierarchical, unlike v1), and the
// pod's io.stat counts the leaf's bytes. It writes the cgroup files itself.
func TestIOMaxOnPodHoldsContainerCreatedLater(t *testing.T) {
	requireV2Kernel(t)
	const probe = 24 << 20 // bytes the unthrottled writer writes
	loop := attachLoop(t, 64<<20)
	tree := newKubeletTree(t, cgroupfsLayout)
	limited := tree.pod(t, newPodUID(t))
	free := tree.pod(t, newPodUID(t))

	// The limit is a quarter of what this emulated disk does right now:
	// a fixed limit assumed a fast host, and a busy one made the unthrottled
	// write too slow to tell the limit apart.
	unthrottled := runIO(t, tree.container(t, free), ioJob{Path: loop.Path, Bytes: probe, Block: 1 << 20, Direct: true})
	limit := limitBelow(t, unthrottled)
	// Three seconds at the limit, in whole blocks, within the device.
	const block = 64 << 10
	total := int64(min(3*limit, 64<<20)) / block * block

	writeCgroupFile(t, limited, "io.max", fmt.Sprintf("%s wbps=%d", loop.Device, limit))
	want := fmt.Sprintf("%s rbps=max wbps=%d riops=max wiops=max", loop.Device, limit)
	if got := cgroupLine(t, limited, "io.max", loop.Device); got != want {
		t.Fatalf("io.max reads back %q, want %q", got, want)
	}
	ctr := tree.container(t, limited)
	throttled := runIO(t, ctr, ioJob{Path: loop.Path, Bytes: total, Block: block, Direct: true})
	t.Logf("direct IO from a container leaf: unthrottled %.1f MiB/s (%d MiB in %.2f s); "+
		"pod limited to a quarter of it, %.2f MiB/s: %.2f MiB/s (%d KiB in %.2f s)",
		unthrottled.MiBPerSecond(), probe>>20, unthrottled.Seconds, float64(limit)/(1<<20),
		throttled.MiBPerSecond(), total>>10, throttled.Seconds)

	// Had io.max not held the container, the write would have run at the
	// rate measured a moment ago, four times the limit: a quarter of the
	// time the limit allows, well below this bound.
	if least := lowerBound(uint64(total), limit); seconds(throttled.Seconds) < least {
		t.Errorf("the limited pod's container wrote %d KiB in %.2f s, want at least %v (limit %.2f MiB/s)",
			total>>10, throttled.Seconds, least, float64(limit)/(1<<20))
	}

	podStat := ioStat(t, limited, loop.Device)
	if podStat["wbytes"] < uint64(total) || podStat["wios"] == 0 {
		t.Errorf("the limited pod's io.stat counts %v for %s, want wbytes >= %d from its container",
			podStat, loop.Device, total)
	}
	// The container's IO stays counted in the pod after the container's
	// cgroup is gone: the stats worker may sample a pod whose containers
	// have exited, and its totals must not go backwards.
	rmCgroup(t, ctr)
	if after := ioStat(t, limited, loop.Device); after["wbytes"] < podStat["wbytes"] {
		t.Errorf("after the container's cgroup was removed the pod's io.stat counts %v, before %v", after, podStat)
	}
	// Each pod counts its own IO, not its sibling's.
	if freeStat := ioStat(t, free, loop.Device); freeStat["wbytes"] < probe || freeStat["wbytes"] >= 2*probe {
		t.Errorf("the unlimited pod's io.stat counts %v, want wbytes in [%d, %d)", freeStat, probe, 2*probe)
	}
}

// TestIOMaxValueRange pins down which values io.max takes, which the
// parameter validation must respect: 1 is refused (blk-throttle reads it as
// "no limit set"), 2 is the smallest limit, and an IOPS value of 2^32-1 or
// more means unlimited (the kernel keeps IOPS in 32 bits, UINT_MAX = max),
// while byte rates keep all 64 bits below 2^64-1.
func TestIOMaxValueRange(t *testing.T) {
	requireV2Kernel(t)
	dev := attachLoop(t, 16<<20).Device
	pod := newKubeletTree(t, cgroupfsLayout).pod(t, newPodUID(t))
	for _, c := range []struct{ write, readBack string }{
		{"rbps=2 wbps=18446744073709551614 riops=2 wiops=4294967294", "rbps=2 wbps=18446744073709551614 riops=2 wiops=4294967294"},
		{"riops=4294967295 wiops=4294967296", "rbps=2 wbps=18446744073709551614 riops=max wiops=max"},
		{"rbps=max wbps=max riops=max wiops=max", ""},
	} {
		writeCgroupFile(t, pod, "io.max", dev.String()+" "+c.write)
		want := ""
		if c.readBack != "" {
			want = dev.String() + " " + c.readBack
		}
		if got := cgroupLine(t, pod, "io.max", dev); got != want {
			t.Errorf("after writing %q io.max reads %q, want %q", c.write, got, want)
		}
	}
	for _, refused := range []string{"rbps=1", "wbps=1", "riops=1", "wiops=1", "wbps=0"} {
		err := os.WriteFile(filepath.Join(pod, "io.max"), []byte(dev.String()+" "+refused), 0)
		if err == nil {
			t.Errorf("io.max accepted %q; io.max now reads %q", refused, cgroupLine(t, pod, "io.max", dev))
		}
	}
}
