package driver

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/mount-utils"
	testingexec "k8s.io/utils/exec/testing"

	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

type listedLoops []loop.Attachment

func (l listedLoops) List() ([]loop.Attachment, error) { return l, nil }

// TestRecoverSortsLoopsMountsAndLimits runs Recover on a fake cgroup v1
// tree and a fake loop table: which device a staged volume keeps, which
// are orphans (no record, not staged, a duplicate), which foreign ones are
// left alone; which kernel entries are stale. Device numbers come from the
// host's /dev/loopN nodes (only stat'ed), the kernel test suite
// (test/reliability) does the rest for real.
func TestRecoverSortsLoopsMountsAndLimits(t *testing.T) {
	for i := 0; i <= 5; i++ {
		if _, err := throttle.DeviceOf("/dev/loop" + string(rune('0'+i))); err != nil {
			t.Skipf("needs the host's /dev/loop0..5 nodes for device numbers: %v", err)
		}
	}
	ctx := context.Background()
	cg := testutil.NewFakeCgroupV1(t)
	backend := throttle.NewV1(cg.Root, cg)
	table := throttletest.NewTable(t, throttle.Options{Backend: backend})
	pUID, qUID := testutil.PodUID(1), testutil.PodUID(2)
	podP, podQ := cg.Mkdir(t, "kubepods/burstable/pod"+pUID), cg.Mkdir(t, "kubepods/burstable/pod"+qUID)
	ctrP, ctrQ := cg.Mkdir(t, "kubepods/burstable/pod"+pUID+"/ctr"), cg.Mkdir(t, "kubepods/burstable/pod"+qUID+"/ctr")

	state := t.TempDir()
	store, err := volume.NewStore(state)
	if err != nil {
		t.Fatal(err)
	}
	fm := mount.NewFakeMounter([]mount.MountPoint{{Device: "/dev/loop1", Path: "/s/b"}, {Device: "/dev/loop0", Path: "/s/a"}})
	d, err := New(Config{Name: "blkio.csi.dev", NodeID: "n", StateDir: state}, Deps{
		Store: store, Loop: &fakeLoop{}, Mounter: &mount.SafeFormatAndMount{Interface: fm, Exec: &testingexec.FakeExec{}},
		Resizer: mount.NewResizeFs(&testingexec.FakeExec{}), Throttler: table,
	})
	if err != nil {
		t.Fatal(err)
	}
	limits := throttle.Limits{WriteIOPS: 100}
	put := func(name string, st *volume.Staging, pubs map[string]volume.Publication) string {
		r := &volume.Record{ID: volume.IDForName(name), Name: name, AccessType: volume.AccessMount, Staging: st, Publications: pubs,
			Params: params.Volume{Limits: limits, Scope: throttle.ScopePod, FsType: "ext4"}}
		if err := store.Put(r); err != nil {
			t.Fatal(err)
		}
		if err := store.CreateBacking(r.ID, 1<<20); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	// a's group was edited live (a ThrottleGroup's spec.limits): recovery
	// restores the edit, not the StorageClass's limits.
	live := throttle.Limits{WriteIOPS: 50}
	a := put("a", &volume.Staging{Path: "/s/a", Device: "/dev/loop0"},
		map[string]volume.Publication{"/t/a": {TargetPath: "/t/a", Pod: throttle.PodRef{UID: pUID}, Limits: &live}})
	b := put("b", nil, nil)
	c := put("c", &volume.Staging{Path: "/s/c", Device: "/dev/loop5"}, nil)
	put("d", &volume.Staging{Path: "/s/d", Device: "/dev/loop9"}, nil)
	// A group that cannot be restored (a pod UID the table refuses): its
	// device's entries must stay, or the volume could run unthrottled.
	e := put("e", &volume.Staging{Path: "/s/e", Device: "/dev/loop5"},
		map[string]volume.Publication{"/t/e": {TargetPath: "/t/e", Pod: throttle.PodRef{UID: "not/a/uid"}}})
	img := func(id string) string { return filepath.Join(store.Dir(), id+".img") }
	loops := listedLoops{
		{Device: "/dev/loop0", BackingFile: img(a)},
		{Device: "/dev/loop1", BackingFile: img(b)},                                  // not staged: orphan
		{Device: "/dev/loop2", BackingFile: img(c)},                                  // the record says loop5
		{Device: "/dev/loop3", BackingFile: img(a)},                                  // a duplicate: orphan
		{Device: "/dev/loop4", BackingFile: filepath.Join(t.TempDir(), "other.img")}, // not ours
		{Device: "/dev/loop5", BackingFile: img(e)},
	}
	dev := func(n uint32) throttle.Device { return throttle.Device{Major: 7, Minor: n} }
	stale := throttle.Limits{ReadIOPS: 7}
	for _, e := range []struct {
		dir string
		dev throttle.Device
	}{{cg.Root, dev(1)}, {podQ, dev(0)}, {podP, dev(0)}, {ctrP, dev(0)}, {ctrQ, dev(4)}, {ctrQ, dev(3)}, {podQ, dev(5)}} {
		if err := backend.WriteLimits(e.dir, e.dev, stale); err != nil {
			t.Fatal(err)
		}
	}
	mis := []mount.MountInfo{{Major: 7, Minor: 1, MountPoint: "/s/b"}, {Major: 7, Minor: 0, MountPoint: "/s/a"}}

	report, err := d.Recover(ctx, RecoverOptions{Loops: loops, Mounts: func() ([]mount.MountInfo, error) { return mis, nil }, Cgroups: backend})
	if err != nil {
		t.Fatal(err)
	}
	want := RecoveryReport{RecoveryGroupRestored: 1, RecoveryStagingDeviceUpdated: 1, RecoveryLoopDeviceMissing: 1,
		RecoveryOrphanLoopDetached: 2, RecoveryOrphanMountUnmounted: 1, RecoveryStaleLimitLifted: 3, RecoveryFailed: 1}
	for _, action := range RecoveryActions() {
		if report[action] != want[action] {
			t.Errorf("%s = %d, want %d (report %v)", action, report[action], want[action], report)
		}
	}
	if r, _ := store.Get(c); r.Staging.Device != "/dev/loop2" {
		t.Errorf("record of c names %s, want the device bound to its file", r.Staging.Device)
	}
	if st, ok := table.Get(throttle.Key{VolumeID: a, PodUID: pUID}); !ok || st.Spec.Device != dev(0) {
		t.Errorf("group of a: %+v, %v", st, ok)
	}
	check := func(dir string, n throttle.Device, want throttle.Limits) {
		t.Helper()
		if got, err := backend.ReadLimits(dir, n); err != nil || got != want {
			t.Errorf("%s holds %s for %s (%v), want %s", dir, got, n, err, want)
		}
	}
	check(cg.Root, dev(1), throttle.Limits{}) // the orphan's root-level entry
	check(podQ, dev(0), throttle.Limits{})    // a's device on a pod it is not published to
	check(ctrQ, dev(3), throttle.Limits{})    // the duplicate's device
	check(podP, dev(0), live)                 // placed again by the table, with the live edit
	check(ctrP, dev(0), live)
	check(ctrQ, dev(4), stale) // not ours
	check(podQ, dev(5), stale) // its group could not be restored
	if mps, _ := fm.List(); len(mps) != 1 || mps[0].Path != "/s/a" {
		t.Errorf("mounts after recovery: %v, want only the recorded /s/a", mps)
	}
	if _, err := os.Stat(img(b)); err != nil {
		t.Errorf("b's backing file: %v; a volume with a record is never removed", err)
	}
}
