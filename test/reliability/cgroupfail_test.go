package reliability

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestCgroupWriteFails makes the pod cgroup's write_bps_device refuse
// writes with EROFS — what a plugin container sees when /sys/fs/cgroup is
// mounted read-only, i.e. when it is not privileged. The decision
// (docs/reliability.md): NodePublishVolume fails and rolls back, because
// publishing would mean running unthrottled (invariant 3) and the degraded
// fallback (a root-level entry) does not hold a container's direct IO on
// v1. So: an Internal error that names the file and the cause, no mount at
// the target, the target removed, no publication in the record, no limit
// left half-written; the kubelet's retry succeeds once the cgroup is
// writable again.
func TestCgroupWriteFails(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	uid := testutil.PodUID(601)
	pod := e.podCgroup(t, uid)
	v := e.createVolume(t, p, "ro-cgroup", 32<<20, false, map[string]string{"writeBytesPerSecond": "8Mi", "readIOPS": "500"})
	target := e.target(uid, "ro-cgroup")
	must(t, "NodeStageVolume", stageErr(p, v))
	dev := devNum(t, e.loopOf(t, v))
	undo := readOnlyFile(t, filepath.Join(pod, string(throttle.V1WriteBPS)))

	err := publishErr(p, v, uid, target)
	wantCode(t, "NodePublishVolume with a read-only cgroup file", err, codes.Internal, "read-only file system")
	wantCode(t, "NodePublishVolume with a read-only cgroup file", err, codes.Internal, "run its container privileged")
	t.Logf("NodePublishVolume: %v", err)
	if ids := mountIDs(t, target); len(ids) != 0 {
		t.Errorf("the failed publish left a mount at the target")
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("the failed publish left the target path: %v", err)
	}
	if r := e.record(t, v); len(r.Publications) != 0 {
		t.Errorf("the record lists publications after the failed publish: %v", r.Publications)
	}
	wantLimits(t, pod, dev, throttle.Limits{})

	undo()
	must(t, "retried NodePublishVolume", publishErr(p, v, uid, target))
	want := throttle.Limits{WriteBytesPerSecond: limit8Mi, ReadIOPS: 500}
	wantLimits(t, pod, dev, want)
	waitLimits(t, e.container(t, uid, "ctr"), dev, want)
	teardown(t, p, v, target)
	e.assertNothingLeft(t)
	p.stop(t)
}

// readOnlyFile bind-mounts a cgroup file read-only onto itself, so that
// writes fail with EROFS as on a read-only cgroupfs. The returned func (and
// t.Cleanup, before the cgroup is removed) makes it writable again.
func readOnlyFile(t *testing.T, name string) func() {
	t.Helper()
	if err := unix.Mount(name, name, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s: %v", name, err)
	}
	if err := unix.Mount("", name, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		unix.Unmount(name, 0)
		t.Fatalf("remount %s read-only: %v", name, err)
	}
	done := false
	undo := func() {
		if done {
			return
		}
		done = true
		if err := unix.Unmount(name, 0); err != nil {
			t.Errorf("unmount %s: %v", name, err)
		}
	}
	t.Cleanup(undo)
	return undo
}
