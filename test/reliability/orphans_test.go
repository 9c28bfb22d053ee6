package reliability

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestOrphansCleanedAtStart plants, while the plugin is down, what crashes
// and interrupted calls leave on a node, next to things that are not the
// plugin's, and checks that the restarted plugin cleans exactly its own
// leftovers before it serves, logs and counts each, and keeps what a
// record knows:
//   - a loop device bound to a state-dir file without a staged record
//     (detached), another one mounted at a kubelet-style staging path
//     (unmounted, detached), a mount in the inline staging dir without a
//     record (unmounted, dir removed);
//   - kernel limits for state-dir devices on cgroups no group holds — on
//     another pod's cgroup, a container, the hierarchy root (lifted) — while
//     the published volume's own limits stay;
//   - a backing file without a record and a record's temp file (removed);
//   - a loop device, a mount and a limit that are not the plugin's
//     (untouched).
func TestOrphansCleanedAtStart(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	pUID, qUID := testutil.PodUID(401), testutil.PodUID(402)
	podP, podQ := e.podCgroup(t, pUID), e.podCgroup(t, qUID)
	ctrP, ctrQ := e.container(t, pUID, "ctr"), e.container(t, qUID, "ctr")
	params := map[string]string{"writeBytesPerSecond": "8Mi"}
	v1 := e.createVolume(t, p, "orphan-loop", 32<<20, false, params)
	v2 := e.createVolume(t, p, "orphan-mount", 32<<20, false, params)
	v4 := e.createVolume(t, p, "published", 32<<20, false, params)
	targetP := e.target(pUID, "published")
	stageAndPublish(t, p, v4, pUID, targetP)
	dev4 := devNum(t, e.loopOf(t, v4))
	waitLimits(t, ctrP, dev4, writeLimit)
	p.kill(t)

	// What crashes leave.
	k := loop.NewKernel()
	d1, err := k.Attach(e.backing(v1))
	if err != nil {
		t.Fatal(err)
	}
	d2, err := k.Attach(e.backing(v2))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", d2.Path).CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v: %s", err, out)
	}
	mountAt(t, d2.Path, v2.staging, "ext4")
	inline := filepath.Join(e.stateDir, "inline", "csi-leftover")
	mountAt(t, "tmpfs", inline, "tmpfs")
	dev1 := devNum(t, d1.Path)
	stale := throttle.Limits{WriteIOPS: 77}
	setLimits(t, podQ, dev4, stale)
	setLimits(t, ctrQ, dev1, stale)
	for _, dev := range []throttle.Device{dev1, dev4} {
		setLimits(t, testutil.BlkioV1, dev, stale)
		t.Cleanup(func() { setLimits(t, testutil.BlkioV1, dev, throttle.Limits{}) })
	}
	noRecord := filepath.Join(e.stateDir, "volumes", "blkio-00000000000000000000000000000000000000aa.img")
	tmpRecord := filepath.Join(e.stateDir, "volumes", v1.id+".json.tmp")
	for _, f := range []string{noRecord, tmpRecord} {
		if err := os.WriteFile(f, []byte("left by a crash"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// What is not the plugin's.
	foreign := testutil.NewLoop(t, 16<<20)
	foreignMnt := testutil.MountExt4(t, foreign.Path)
	foreignDev := throttle.Device{Major: foreign.Major, Minor: foreign.Minor}
	setLimits(t, ctrQ, foreignDev, stale)

	p = e.start(t)
	p.wantRecovery(t, map[string]int{
		"group_restored":         1, // v4 for pod P
		"orphan_loop_detached":   2, // v1, v2
		"orphan_mount_unmounted": 2, // v2's staging mount, the inline tmpfs
		"stale_limit_lifted":     4, // dev4 on pod Q and root, dev1 on Q's container and root
		"orphan_file_removed":    3, // the backing file without a record, the temp record, the inline dir
	})

	for _, v := range []vol{v1, v2} {
		if devs := boundTo(t, e.backing(v)); len(devs) != 0 {
			t.Errorf("orphaned loop devices of %s still bound: %v", v.id, devs)
		}
	}
	for _, path := range []string{v2.staging, inline} {
		if ids := mountIDs(t, path); len(ids) != 0 {
			t.Errorf("orphaned mount at %s left", path)
		}
	}
	for _, f := range []string{inline, noRecord, tmpRecord} {
		if _, err := os.Lstat(f); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", f, err)
		}
	}
	wantLimits(t, podQ, dev4, throttle.Limits{})
	wantLimits(t, ctrQ, dev1, throttle.Limits{})
	wantLimits(t, testutil.BlkioV1, dev1, throttle.Limits{})
	wantLimits(t, testutil.BlkioV1, dev4, throttle.Limits{})
	wantLimits(t, podP, dev4, writeLimit)
	wantLimits(t, ctrP, dev4, writeLimit)
	if reasons := healthReasons(t, p, v4); len(reasons) > 0 {
		t.Errorf("published volume unhealthy after recovery: %v", reasons)
	}
	wantLimits(t, ctrQ, foreignDev, stale)
	if got := boundTo(t, foreign.File); len(got) != 1 {
		t.Errorf("the foreign loop device was touched: bound to %v", got)
	}
	if ids := mountIDs(t, foreignMnt); len(ids) != 1 {
		t.Errorf("the foreign mount was touched: %v", ids)
	}
	setLimits(t, ctrQ, foreignDev, throttle.Limits{})

	// The cleaned volumes are usable again.
	targetQ := e.target(qUID, "orphan-mount")
	must(t, "NodeStageVolume of the formerly orphaned volume", stageErr(p, v2))
	must(t, "NodePublishVolume of the formerly orphaned volume", publishErr(p, v2, qUID, targetQ))
	waitLimits(t, ctrQ, devNum(t, e.loopOf(t, v2)), writeLimit)
	teardown(t, p, v2, targetQ)
	teardown(t, p, v4, targetP)
	must(t, "DeleteVolume", deleteErr(p, v1))
	e.assertNothingLeft(t)
	p.stop(t)
}

// mountAt mounts source (fstype) at dir, creating it.
func mountAt(t *testing.T, source, dir, fstype string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(source, dir, fstype, 0, ""); err != nil {
		t.Fatalf("mount %s at %s: %v", source, dir, err)
	}
}
