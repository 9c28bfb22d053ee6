//go:build v2kernel && linux

package v2kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestDriverEndToEnd serves the real csi-blkio binary on a unix socket in
// the VM and walks one volume through its life as the kubelet and
// external-provisioner would: create, stage (ext4), publish to a pod, write
// from a container of that pod, stats, growth of the mounted filesystem,
// unpublish, unstage, delete. The limit must hold the container and
// nothing may be left behind.
func TestDriverEndToEnd(t *testing.T) {
	requireV2Kernel(t)
	const limit, total = 8 << 20, 24 << 20
	const size, grown = 64 << 20, 128 << 20 // the volume's, created and expanded
	// The state dir on ext4, as on a node: its loop devices then run with
	// direct IO (tmpfs has no O_DIRECT).
	state := filepath.Join(mkfsMount(t, attachLoop(t, 512<<20).Path), "csi-blkio")
	kubelet := t.TempDir()
	tree := newKubeletTree(t, cgroupfsLayout)
	uid := newPodUID(t)
	pod := tree.pod(t, uid)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	drv := startDriver(t, state, tree)
	ids, ctl, node := csi.NewIdentityClient(drv.conn), csi.NewControllerClient(drv.conn), csi.NewNodeClient(drv.conn)

	// Detection: ready on a pure v2 mount, and Probe (whose response has
	// only Ready) logs the hierarchy it found.
	probe, err := ids.Probe(ctx, &csi.ProbeRequest{})
	if err != nil || !probe.GetReady().GetValue() {
		t.Fatalf("Probe = %v, %v; want ready on a v2 kernel with loop support", probe, err)
	}
	if line := drv.waitForLine(t, `"Probe: ready"`); !strings.Contains(line, `backend="cgroup v2 at `+cgroupRoot+` `) {
		t.Errorf("Probe logged %q, want it to name cgroup v2 at %s", line, cgroupRoot)
	}

	capability := &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: "ext4"}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}
	created, err := ctl.CreateVolume(ctx, &csi.CreateVolumeRequest{
		Name:               "csiblkio-test-" + randomHex(t, 4),
		CapacityRange:      &csi.CapacityRange{RequiredBytes: size},
		VolumeCapabilities: []*csi.VolumeCapability{capability},
		Parameters:         map[string]string{"writeBytesPerSecond": "8Mi", "csi.storage.k8s.io/fstype": "ext4"},
	})
	if err != nil {
		t.Fatalf("CreateVolume: %v", err)
	}
	vol := created.GetVolume()
	id := vol.GetVolumeId()

	staging := filepath.Join(kubelet, "plugins/kubernetes.io/csi/blkio.csi.dev", randomHex(t, 8), "globalmount")
	target := filepath.Join(kubelet, "pods", uid, "volumes/kubernetes.io~csi", id, "mount")
	for _, dir := range []string{staging, filepath.Dir(target)} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	// A test that stops half way tears the volume down through the driver
	// (which is still serving: cleanups run in reverse order), so that no
	// mount or loop device outlives it. Every call is idempotent.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: target}); err != nil {
			t.Logf("teardown: NodeUnpublishVolume: %v", err)
		}
		if _, err := node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: id, StagingTargetPath: staging}); err != nil {
			t.Logf("teardown: NodeUnstageVolume: %v", err)
		}
		if _, err := ctl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
			t.Logf("teardown: DeleteVolume: %v", err)
		}
	})
	if _, err := node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{
		VolumeId: id, StagingTargetPath: staging, VolumeCapability: capability, VolumeContext: vol.GetVolumeContext(),
	}); err != nil {
		t.Fatalf("NodeStageVolume: %v", err)
	}
	podContext := map[string]string{
		"csi.storage.k8s.io/pod.uid": uid, "csi.storage.k8s.io/pod.name": "writer",
		"csi.storage.k8s.io/pod.namespace": "default", "csi.storage.k8s.io/ephemeral": "false",
	}
	for k, v := range vol.GetVolumeContext() {
		podContext[k] = v
	}
	if _, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{
		VolumeId: id, StagingTargetPath: staging, TargetPath: target, VolumeCapability: capability, VolumeContext: podContext,
	}); err != nil {
		t.Fatalf("NodePublishVolume: %v", err)
	}

	// The published volume's device is what the limit must name.
	dev := mountDevice(t, target)
	want := fmt.Sprintf("%s rbps=max wbps=%d riops=max wiops=max", dev, limit)
	if got := cgroupLine(t, pod, "io.max", dev); got != want {
		t.Fatalf("after NodePublishVolume the pod's io.max line is %q, want %q", got, want)
	}

	res := runIO(t, tree.container(t, pod), ioJob{
		Path: filepath.Join(target, "data"), Create: true, Bytes: total, Block: 1 << 20, Direct: true})
	t.Logf("csi-blkio volume with writeBytesPerSecond=8Mi: a container of the pod wrote %d MiB directly at %.2f MiB/s (%.2f s)",
		total>>20, res.MiBPerSecond(), res.Seconds)
	if got, least := seconds(res.Seconds), lowerBound(total, limit); got < least {
		t.Errorf("the container wrote %d MiB in %v, want at least %v", total>>20, got, least)
	}
	if got := ioStat(t, pod, dev); got["wbytes"] < total {
		t.Errorf("the pod's io.stat counts %v for %s, want wbytes >= %d", got, dev, total)
	}
	// The group's stats, as the driver's worker installs them (what the
	// ThrottleGroup status and the metrics are made from).
	key := throttle.Key{VolumeID: id, PodUID: uid}
	gs := drv.waitForStats(t, key, "the container's bytes", func(s throttle.Stats) bool { return s.WriteBytes >= total })
	t.Logf("the group's stats: %d bytes in %d writes, last sample at %.2f MiB/s", gs.WriteBytes, gs.WriteIOs,
		gs.WriteBytesPerSecond/(1<<20))

	stats, err := node.NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: id, VolumePath: target})
	if err != nil {
		t.Fatalf("NodeGetVolumeStats: %v", err)
	}
	used, fsSize := byteUsage(t, stats)
	if used < total {
		t.Errorf("NodeGetVolumeStats reports %d bytes used, want at least the %d written", used, total)
	}
	// Health reads the limits back from the v2 kernel: none may be missing.
	health, err := node.NodeGetVolumeHealth(ctx, &csi.NodeGetVolumeHealthRequest{VolumeId: id})
	if err != nil {
		t.Fatalf("NodeGetVolumeHealth: %v", err)
	}
	if entries := health.GetVolumeHealth().GetHealthStatuses(); len(entries) != 0 {
		t.Errorf("NodeGetVolumeHealth of a published volume reports problems: %v", entries)
	}

	// Online growth of the mounted ext4, its limit in place. resize2fs
	// needs CAP_SYS_RESOURCE, which root has in this VM and lacks on the
	// test machines (internal/driver's TestKernelExpandOnline/ext4 skips
	// there): this is where it runs.
	exp, err := ctl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: id,
		CapacityRange: &csi.CapacityRange{RequiredBytes: grown}, VolumeCapability: capability})
	if err != nil || exp.GetCapacityBytes() != grown || !exp.GetNodeExpansionRequired() {
		t.Fatalf("ControllerExpandVolume to %d bytes = %v, %v", grown, exp, err)
	}
	if _, err := node.NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: id, VolumePath: target,
		StagingTargetPath: staging, CapacityRange: &csi.CapacityRange{RequiredBytes: grown}, VolumeCapability: capability}); err != nil {
		t.Fatalf("NodeExpandVolume of the mounted ext4: %v", err)
	}
	stats, err = node.NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: id, VolumePath: target})
	if err != nil {
		t.Fatalf("NodeGetVolumeStats after the expansion: %v", err)
	}
	_, grownFsSize := byteUsage(t, stats)
	t.Logf("the mounted ext4 grew online from %d to %d bytes", fsSize, grownFsSize)
	if grownFsSize < fsSize+(grown-size)*3/4 {
		t.Errorf("the filesystem holds %d bytes after expanding to %d; it held %d before", grownFsSize, grown, fsSize)
	}
	if fi, err := os.Stat(filepath.Join(target, "data")); err != nil || fi.Size() != total {
		t.Errorf("the data written before the expansion: %v, %v; want %d bytes", fi, err, total)
	}
	if got := cgroupLine(t, pod, "io.max", dev); got != want {
		t.Errorf("after the expansion the pod's io.max line is %q, want %q", got, want)
	}

	if _, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: target}); err != nil {
		t.Fatalf("NodeUnpublishVolume: %v", err)
	}
	if got := cgroupLine(t, pod, "io.max", dev); got != "" {
		t.Errorf("after NodeUnpublishVolume the pod's io.max still holds %q", got)
	}
	drv.waitForLine(t, `"Throttle group removed"`, `group="`+key.String()+`"`)
	if _, err := node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: id, StagingTargetPath: staging}); err != nil {
		t.Fatalf("NodeUnstageVolume: %v", err)
	}
	if _, err := ctl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
		t.Fatalf("DeleteVolume: %v", err)
	}
	requireNothingLeft(t, kubelet, state, id)
	requireNoIOMax(t, tree.Root, dev)
}

// byteUsage is the used and total bytes of a NodeGetVolumeStats answer.
func byteUsage(t *testing.T, stats *csi.NodeGetVolumeStatsResponse) (used, total int64) {
	t.Helper()
	for _, u := range stats.GetUsage() {
		if u.GetUnit() == csi.VolumeUsage_BYTES {
			return u.GetUsed(), u.GetTotal()
		}
	}
	t.Fatalf("no byte usage in %v", stats)
	return 0, 0
}

// runningDriver is a csi-blkio serve process and a client connection to it.
type runningDriver struct {
	*drivertest.Process
	conn *grpc.ClientConn
}

// waitForLine waits up to 10 s for a line of the driver's log that
// contains every one of substrs (in any order: the key/value pairs a
// contextual logger adds come before the call's own) and returns the last
// such line.
func (d runningDriver) waitForLine(t *testing.T, substrs ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	hasAll := func(line string) bool {
		for _, s := range substrs {
			if !strings.Contains(line, s) {
				return false
			}
		}
		return true
	}
	for {
		lines := strings.Split(d.ReadLog(t), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if hasAll(lines[i]) {
				return lines[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the driver logged no line with all of %q within 10 s", substrs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitForStats waits up to 10 s for the stats worker of the driver to
// install stats of the group that ok accepts, and returns them. The binary
// serves no other view of a group's stats yet (no kubeconfig, no metrics),
// so they are read from its -v=5 log line "Stats installed", whose stats
// value klog renders as JSON.
func (d runningDriver) waitForStats(t *testing.T, key throttle.Key, what string, ok func(throttle.Stats) bool) throttle.Stats {
	t.Helper()
	group := `group="` + key.String() + `"`
	deadline := time.Now().Add(10 * time.Second)
	var last throttle.Stats
	for {
		for _, line := range strings.Split(d.ReadLog(t), "\n") {
			if !strings.Contains(line, `"Stats installed"`) || !strings.Contains(line, group) {
				continue
			}
			_, js, found := strings.Cut(line, " stats=")
			if !found {
				continue
			}
			if err := json.Unmarshal([]byte(js), &last); err != nil {
				t.Fatalf("cannot parse the stats the driver logged: %v\n%s", err, line)
			}
			if !last.Pending && ok(last) {
				return last
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: waited 10 s for %s in the driver's stats; last logged: %+v", key, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startDriver runs csi-blkio serve on a socket in a temp dir; the driver is
// stopped (SIGTERM) when the test ends and its log is printed if the test
// failed.
func startDriver(t *testing.T, state string, tree kubeletTree) runningDriver {
	t.Helper()
	bin, err := exec.LookPath("csi-blkio")
	if err != nil {
		t.Fatalf("the csi-blkio binary is not in the VM: %v", err)
	}
	p := drivertest.StartProcess(t, bin, filepath.Join(t.TempDir(), "csi-blkio.log"),
		"--node-id", "v2kernel-vm", "--state-dir", state, "--cgroup-root", cgroupRoot,
		"--kubelet-cgroup-root", tree.KubeletRoot(), "--stats-interval", "1s", "-v", "5")
	return runningDriver{Process: p, conn: p.Dial(t)}
}

// mountDevice returns the device number of the filesystem mounted at dir,
// from /proc/self/mountinfo (field 3, "major:minor").
func mountDevice(t *testing.T, dir string) throttle.Device {
	t.Helper()
	for _, m := range mountInfo(t) {
		if m.mountPoint == dir {
			d, err := throttle.ParseDevice(m.device)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatalf("nothing is mounted at %s", dir)
	return throttle.Device{}
}

type mountEntry struct{ device, mountPoint string }

func mountInfo(t *testing.T) []mountEntry {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var ms []mountEntry
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			ms = append(ms, mountEntry{device: f[2], mountPoint: f[4]})
		}
	}
	return ms
}

// requireNoIOMax checks that no cgroup below root holds a limit for dev.
func requireNoIOMax(t *testing.T, root string, dev throttle.Device) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return err
		}
		if line := cgroupLine(t, p, "io.max", dev); line != "" {
			t.Errorf("%s/io.max still holds %q", p, line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// requireNothingLeft checks that the volume left no mount below the kubelet
// dir, no loop device on a file in the state dir and no file naming it.
func requireNothingLeft(t *testing.T, kubelet, state, id string) {
	t.Helper()
	for _, m := range mountInfo(t) {
		if strings.HasPrefix(m.mountPoint, kubelet+"/") {
			t.Errorf("still mounted after delete: %s", m.mountPoint)
		}
	}
	backing, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range backing {
		if b, err := os.ReadFile(f); err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), state) {
			t.Errorf("loop device still attached after delete: %s -> %s", f, strings.TrimSpace(string(b)))
		}
	}
	_ = filepath.WalkDir(state, func(p string, _ os.DirEntry, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), id) {
			t.Errorf("still in the state dir after delete: %s", p)
		}
		return nil
	})
}
