package reliability

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestNodeReboot simulates a reboot behind the plugin's back: the plugin
// dies, its mounts go, its loop devices are detached, the pod's cgroup is
// re-created without limits, and — as after a real reboot — the loop
// number a volume had now belongs to someone else's file. The restarted
// plugin must not place limits on that stranger (it counts the volumes'
// devices as missing and reports them in the health check); the kubelet's
// NodeStageVolume and NodePublishVolume retries bring both volumes (ext4
// and raw block) back on new devices, throttled, with their data.
func TestNodeReboot(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	uid := testutil.PodUID(301)
	pod := e.podCgroup(t, uid)
	params := map[string]string{"writeBytesPerSecond": "8Mi"}
	fsVol := e.createVolume(t, p, "fs", 64<<20, false, params)
	blkVol := e.createVolume(t, p, "blk", 64<<20, true, params)
	fsTarget, blkTarget := e.target(uid, "fs"), e.target(uid, "blk")
	both := []struct {
		v      vol
		target string
	}{{fsVol, fsTarget}, {blkVol, blkTarget}}
	for _, x := range both {
		stageAndPublish(t, p, x.v, uid, x.target)
	}
	fsSum := writeData(t, filepath.Join(fsTarget, "data"), 4<<20)
	blkSum := writeData(t, blkTarget, 4<<20)
	oldFs, oldBlk := e.loopOf(t, fsVol), e.loopOf(t, blkVol)
	e.container(t, uid, "ctr")

	// The reboot.
	p.kill(t)
	for _, mp := range []string{fsTarget, blkTarget, fsVol.staging} {
		if err := unix.Unmount(mp, 0); err != nil {
			t.Fatalf("unmount %s: %v", mp, err)
		}
	}
	// The stranger takes the fs volume's number right after it is freed:
	// other tests on a shared machine attach loop devices too, and one of
	// them could otherwise take the number first.
	if err := loop.NewKernel().Detach(oldBlk); err != nil {
		t.Fatal(err)
	}
	if err := loop.NewKernel().Detach(oldFs); err != nil {
		t.Fatal(err)
	}
	stranger := attachAt(t, oldFs, filepath.Join(t.TempDir(), testutil.Prefix+"-stranger.img"))
	strangerNum := devNum(t, oldFs)
	testutil.RemoveCgroupV1(t, filepath.Join(pod, "ctr"))
	testutil.RemoveCgroupV1(t, pod)
	pod = e.podCgroup(t, uid)

	p = e.start(t)
	p.wantRecovery(t, map[string]int{"loop_device_missing": 2})
	wantReason(t, healthReasons(t, p, fsVol), "LoopDeviceRebound")
	// The block volume's old number is free, unless another user of the
	// machine attached a file to it meanwhile (seen: a kubelet node test
	// beside this one): both say the device is no longer the volume's.
	wantReason(t, healthReasons(t, p, blkVol), "LoopDeviceGone", "LoopDeviceRebound")
	wantLimits(t, pod, strangerNum, throttle.Limits{})

	// The kubelet re-stages and re-publishes.
	for _, x := range both {
		must(t, "NodeStageVolume after the reboot", stageErr(p, x.v))
		must(t, "NodePublishVolume after the reboot", publishErr(p, x.v, uid, x.target))
		if reasons := healthReasons(t, p, x.v); len(reasons) > 0 {
			t.Errorf("volume unhealthy after the kubelet's retries: %v", reasons)
		}
	}
	newFs, newBlk := devNum(t, e.loopOf(t, fsVol)), devNum(t, e.loopOf(t, blkVol))
	if newFs == strangerNum {
		t.Fatalf("the volume was attached to the stranger's device %s", strangerNum)
	}
	ctr := e.container(t, uid, "ctr")
	for _, dev := range []throttle.Device{newFs, newBlk} {
		wantLimits(t, pod, dev, writeLimit)
		waitLimits(t, ctr, dev, writeLimit)
	}
	wantLimits(t, ctr, strangerNum, throttle.Limits{})
	if got := readSum(t, filepath.Join(fsTarget, "data"), 4<<20); got != fsSum {
		t.Errorf("ext4 volume data after the reboot: sha256 %s, want %s", got, fsSum)
	}
	if got := readSum(t, blkTarget, 4<<20); got != blkSum {
		t.Errorf("block volume data after the reboot: sha256 %s, want %s", got, blkSum)
	}
	rate, run := ddRate(t, ctr, filepath.Join(fsTarget, "dd"), 16)
	wantHeld(t, rate, run, limit8Mi)

	teardown(t, p, fsVol, fsTarget)
	teardown(t, p, blkVol, blkTarget)
	e.assertNothingLeft(t)
	if got := boundTo(t, stranger); len(got) != 1 || got[0] != oldFs {
		t.Errorf("the stranger's file is bound to %v, want it left on %s", got, oldFs)
	}
	p.stop(t)
}

// wantReason asserts that one of reasons has one of the wanted reasons.
func wantReason(t *testing.T, reasons []string, want ...string) {
	t.Helper()
	for _, r := range reasons {
		for _, w := range want {
			if strings.HasPrefix(r, w+":") {
				t.Logf("health: %s", r)
				return
			}
		}
	}
	t.Errorf("health %v lacks %s", reasons, strings.Join(want, " or "))
}

// attachAt binds a new 16 MiB file to the loop device dev — a specific
// number, as another user of the node might after a reboot — and detaches
// it in t.Cleanup. It returns the file.
func attachAt(t *testing.T, dev, file string) string {
	t.Helper()
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(16 << 20); err != nil {
		t.Fatal(err)
	}
	d, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
	copy(cfg.Info.File_name[:unix.LO_NAME_SIZE-1], file)
	// EBUSY while the detach of the old binding completes (the last
	// opener, udev's probe of the unmounted device say, closes it). A
	// deadline, not a count of tries: on a loaded machine those can take
	// seconds.
	start := time.Now()
	for {
		err = unix.IoctlLoopConfigure(int(d.Fd()), &cfg)
		if !errors.Is(err, unix.EBUSY) || time.Since(start) > 30*time.Second {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("LOOP_CONFIGURE %s after %v: %v (bound to %v)", dev, time.Since(start).Round(time.Millisecond), err, boundFiles(dev))
	}
	t.Cleanup(func() {
		if err := loop.NewKernel().Detach(dev); err != nil {
			t.Errorf("detach %s: %v", dev, err)
		}
	})
	return file
}

// boundFiles is what dev is bound to now, for a failure message.
func boundFiles(dev string) []string {
	atts, err := loop.NewKernel().List()
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, a := range atts {
		if a.Device == dev {
			out = append(out, a.BackingFile)
		}
	}
	return out
}
