package reliability

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

const limit8Mi = 8 << 20

var writeLimit = throttle.Limits{WriteBytesPerSecond: limit8Mi}

// TestCrashAfterPublish: kill -9 a plugin that has a published, throttled
// volume; restart it on the same state dir. The restarted plugin rebuilds
// the group from the record before it serves: the limits stay in the kernel,
// the health check (which compares the table with the kernel) is clean, a
// container cgroup created after the restart gets the limit and a
// direct-IO writer in it is held; the mounts are the same mounts, and data
// written (fsync'd) before the crash reads back from the device unchanged.
func TestCrashAfterPublish(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	uid := testutil.PodUID(101)
	pod := e.podCgroup(t, uid)
	v := e.createVolume(t, p, "crash", 64<<20, false, map[string]string{"writeBytesPerSecond": "8Mi"})
	target := e.target(uid, "crash")
	stageAndPublish(t, p, v, uid, target)
	dev := devNum(t, e.loopOf(t, v))
	before := e.container(t, uid, "ctr-before")
	waitLimits(t, before, dev, writeLimit)
	sum := writeData(t, filepath.Join(target, "data"), 8<<20)
	mounts := map[string][]int{v.staging: mountIDs(t, v.staging), target: mountIDs(t, target)}

	p.kill(t)
	p = e.start(t)
	p.wantRecovery(t, map[string]int{"group_restored": 1})

	if reasons := healthReasons(t, p, v); len(reasons) > 0 {
		t.Errorf("volume unhealthy after the restart (is the group in the table and the kernel?): %v", reasons)
	}
	wantLimits(t, pod, dev, writeLimit)
	wantLimits(t, before, dev, writeLimit)
	after := e.container(t, uid, "ctr-after")
	t.Logf("limit on a container created after the restart landed in %v", waitLimits(t, after, dev, writeLimit))
	rate, run := ddRate(t, after, filepath.Join(target, "dd"), 16)
	wantHeld(t, rate, run, limit8Mi)
	for path, ids := range mounts {
		if got := mountIDs(t, path); len(ids) != 1 || !slices.Equal(got, ids) {
			t.Errorf("mounts at %s: %v before the crash, %v after; want the same single mount", path, ids, got)
		}
	}
	if got := readSum(t, filepath.Join(target, "data"), 8<<20); got != sum {
		t.Errorf("data written before the crash reads back with sha256 %s, want %s", got, sum)
	}

	teardown(t, p, v, target)
	for _, cg := range []string{pod, before, after} {
		wantLimits(t, cg, dev, throttle.Limits{})
	}
	e.assertNothingLeft(t)
	p.stop(t)
}
