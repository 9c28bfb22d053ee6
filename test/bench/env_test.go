//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// env is the real driver on the real throttle core (cgroup v1 blkio), with a
// kubelet cgroup root of its own (csiblkio-test-<rand>) that holds the
// kubelet-style pod and container cgroups and the bare baseline cgroups.
type env struct {
	t      *testing.T
	h      *drivertest.Harness
	table  *throttle.Table
	parent string // relative to the blkio hierarchy
	seq    int
}

// newEnv starts the driver; wrap may wrap its dependencies (nil: none).
func newEnv(t *testing.T, wrap func(*driver.Deps)) *env {
	t.Helper()
	testutil.RequireBlkioV1(t)
	requireTools(t, "fio", "dd", "losetup", "mkfs.ext4", "mkfs.xfs", "mount")
	th := drivertest.NewThrottle(t)
	return &env{t: t, h: drivertest.StartWith(t, th, wrap), table: th.Table, parent: th.Parent}
}

func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is needed (hack/bench installs it): %v", n, err)
		}
	}
}

func (e *env) next() int { e.seq++; return e.seq }

// pod makes kubepods/burstable/pod<uid> as kubelet does before it mounts
// the pod's volumes, and returns the UID and the cgroup's absolute path.
func (e *env) pod() (string, string) {
	uid := testutil.PodUID(e.next())
	return uid, testutil.MkdirCgroupV1(e.t, filepath.Join(e.parent, "kubepods", "burstable", "pod"+uid))
}

// container makes a container cgroup below a pod cgroup, as runc does after
// the volumes are published.
func (e *env) container(pod, name string) string {
	rel, err := filepath.Rel(testutil.BlkioV1, filepath.Join(pod, name))
	if err != nil {
		e.t.Fatal(err)
	}
	return testutil.MkdirCgroupV1(e.t, rel)
}

// bareCgroup makes a cgroup outside kubepods and writes limits into it by
// hand (file name without the blkio.throttle. prefix -> value): the bare
// kernel the driver is compared with.
func (e *env) bareCgroup(dev throttle.Device, limits map[string]uint64) string {
	dir := testutil.MkdirCgroupV1(e.t, filepath.Join(e.parent, "bare", fmt.Sprint("c", e.next())))
	for f, v := range limits {
		writeLimit(e.t, filepath.Join(dir, "blkio.throttle."+f), dev, v)
	}
	return dir
}

func writeLimit(t *testing.T, file string, dev throttle.Device, v uint64) {
	t.Helper()
	if err := os.WriteFile(file, []byte(fmt.Sprintf("%s %d", dev, v)), 0); err != nil {
		t.Fatalf("write %s: %v", file, err)
	}
}

// waitLimit waits until the throttle file of cgroup holds the limit for
// dev: the throttle core places container limits from its watcher.
func waitLimit(t *testing.T, cgroup, file string, dev throttle.Device, v uint64) {
	t.Helper()
	want := fmt.Sprintf("%s %d", dev, v)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(cgroup, "blkio.throttle."+file))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: limit %q did not appear within 5 s (file holds %q)", cgroup, want, b)
		}
		time.Sleep(time.Millisecond)
	}
}

// vol is a csi-blkio volume created and staged through CSI calls.
type vol struct {
	e       *env
	id      string
	staging string
	mount   bool
	pubs    map[string]bool // target paths
	gone    bool
}

func mountCap(fs string, flags ...string) *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_MULTI_WRITER},
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: fs, MountFlags: flags}},
	}
}

// quietExt4 is the mount option the IO benchmarks stage ext4 with, on the
// csi-blkio and the bare side alike: a fresh ext4 otherwise initialises
// its inode tables in the background (ext4lazyinit, ~16 MiB on 1 GiB, a few
// seconds after the mount), from the root cgroup — IO that a volume-scope
// root-level entry throttles too, so it would blur the first figures of a
// fresh volume. The report says so.
const quietExt4 = "noinit_itable"

// create makes a volume (CreateVolume only); params are StorageClass
// parameters.
func (e *env) create(size int64, fs string, params map[string]string) *vol {
	e.t.Helper()
	v := &vol{e: e, mount: true, pubs: map[string]bool{}}
	resp, err := e.h.Controller().CreateVolume(context.Background(), &csi.CreateVolumeRequest{
		Name: fmt.Sprintf("%s-bench-%d", testutil.Prefix, e.next()), Parameters: params,
		VolumeCapabilities: []*csi.VolumeCapability{mountCap(fs)},
		CapacityRange:      &csi.CapacityRange{RequiredBytes: size},
	})
	if err != nil {
		e.t.Fatalf("CreateVolume: %v", err)
	}
	v.id = resp.GetVolume().GetVolumeId()
	v.staging = filepath.Join(e.h.WorkDir, "staging", v.id)
	e.t.Cleanup(v.teardown)
	return v
}

// volume creates and stages an ext4 volume (mounted with quietExt4).
func (e *env) volume(size int64, params map[string]string) *vol {
	e.t.Helper()
	v := e.create(size, "ext4", params)
	v.stage("ext4", quietExt4)
	return v
}

func (v *vol) stage(fs string, flags ...string) {
	v.e.t.Helper()
	if err := v.tryStage(fs, flags...); err != nil {
		v.e.t.Fatal(err)
	}
}

// tryStage is stage for goroutines other than the test's.
func (v *vol) tryStage(fs string, flags ...string) error {
	if _, err := v.e.h.Node().NodeStageVolume(context.Background(), &csi.NodeStageVolumeRequest{
		VolumeId: v.id, StagingTargetPath: v.staging, VolumeCapability: mountCap(fs, flags...),
	}); err != nil {
		return fmt.Errorf("NodeStageVolume %s: %w", v.id, err)
	}
	return nil
}

// publish publishes the staged volume into pod uid and returns the target.
func (v *vol) publish(uid string) string {
	v.e.t.Helper()
	target, err := v.tryPublish(uid)
	if err != nil {
		v.e.t.Fatal(err)
	}
	return target
}

// tryPublish is publish for goroutines other than the test's.
func (v *vol) tryPublish(uid string) (string, error) {
	target := filepath.Join(v.e.h.WorkDir, "pods", uid, "volumes", v.id)
	if _, err := v.e.h.Node().NodePublishVolume(context.Background(), &csi.NodePublishVolumeRequest{
		VolumeId: v.id, StagingTargetPath: v.staging, TargetPath: target, VolumeCapability: mountCap(""),
		VolumeContext: map[string]string{
			"csi.storage.k8s.io/pod.uid": uid, "csi.storage.k8s.io/pod.name": "bench", "csi.storage.k8s.io/pod.namespace": "default",
		},
	}); err != nil {
		return "", fmt.Errorf("NodePublishVolume %s: %w", v.id, err)
	}
	v.pubs[target] = true
	return target, nil
}

// device is the volume's loop device (the device of its staged filesystem).
func (v *vol) device() throttle.Device { return deviceOf(v.e.t, v.staging) }

func deviceOf(t *testing.T, path string) throttle.Device {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return throttle.Device{Major: unix.Major(st.Dev), Minor: unix.Minor(st.Dev)}
}

// teardown unpublishes, unstages and deletes the volume through CSI calls.
func (v *vol) teardown() {
	if v.gone {
		return
	}
	v.gone = true
	ctx, node := context.Background(), v.e.h.Node()
	for target := range v.pubs {
		if _, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: v.id, TargetPath: target}); err != nil {
			v.e.t.Errorf("NodeUnpublishVolume %s: %v", v.id, err)
		}
	}
	if err := v.unstage(ctx, node); err != nil {
		v.e.t.Errorf("NodeUnstageVolume %s: %v", v.id, err)
	}
	if _, err := v.e.h.Controller().DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: v.id}); err != nil {
		v.e.t.Errorf("DeleteVolume %s: %v", v.id, err)
	}
}

// unstage calls NodeUnstageVolume as kubelet does: again while the
// filesystem is busy, for up to 10 s. A neighbour run once found two
// volumes' mounts busy right after its last phase, with every fio reaped,
// and free again a minute later; each busy answer logs what held the
// mount, if a process did.
func (v *vol) unstage(ctx context.Context, node csi.NodeClient) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: v.id, StagingTargetPath: v.staging})
		if status.Code(err) != codes.FailedPrecondition || time.Now().After(deadline) {
			return err
		}
		v.e.t.Logf("NodeUnstageVolume %s: busy; held by %v", v.id, holders(v.staging))
		time.Sleep(100 * time.Millisecond)
	}
}

// holders lists the processes with an open file or their working
// directory below dir, as "pid comm path".
func holders(dir string) []string {
	var out []string
	links, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	more, _ := filepath.Glob("/proc/[0-9]*/cwd")
	for _, l := range append(links, more...) {
		target, err := os.Readlink(l)
		if err != nil || !strings.HasPrefix(target, dir+"/") && target != dir {
			continue
		}
		pid := strings.Split(l, "/")[2]
		comm, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
		out = append(out, fmt.Sprintf("%s %s %s", pid, strings.TrimSpace(string(comm)), target))
	}
	return out
}

// fill writes size bytes of data to path with direct IO, from the test's
// own (unthrottled) cgroup, so that reads hit the device (a sparse or
// unwritten extent reads as zeros without IO) and fio lays out nothing.
func fill(t *testing.T, path string, size int64) string {
	t.Helper()
	out, err := exec.Command("dd", "if=/dev/zero", "of="+path, "bs=1M", fmt.Sprint("count=", size/mib), "oflag=direct", "status=none").CombinedOutput()
	if err != nil {
		t.Fatalf("fill %s: %v\n%s", path, err, out)
	}
	return path
}

// fillInterleaved fills files with size bytes each, 16 MiB of each in
// turn, so that none was written more recently than the others.
func fillInterleaved(t *testing.T, size int64, files ...string) {
	t.Helper()
	const chunk = 16 * mib
	for off := int64(0); off < size; off += chunk {
		for _, f := range files {
			out, err := exec.Command("dd", "if=/dev/zero", "of="+f, "bs=1M", fmt.Sprint("count=", min(chunk, size-off)/mib),
				fmt.Sprint("seek=", off/mib), "conv=notrunc", "oflag=direct", "status=none").CombinedOutput()
			if err != nil {
				t.Fatalf("fill %s: %v\n%s", f, err, out)
			}
		}
	}
}

// bareLoop is a direct-IO loop device with ext4 (made with the options
// mount-utils uses, mounted with quietExt4), attached and mounted by the
// test itself: no driver, no cgroup limits.
type bareLoop struct {
	dev throttle.Device
	mnt string
}

func newBareLoop(t *testing.T, size int64) bareLoop {
	t.Helper()
	l := testutil.NewLoop(t, size)
	if !l.DirectIO() {
		t.Fatalf("%s runs without direct IO", l.Path)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m0", l.Path).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 %s: %v\n%s", l.Path, err, out)
	}
	mnt := filepath.Join(t.TempDir(), testutil.Prefix+"-mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(l.Path, mnt, "ext4", 0, quietExt4); err != nil {
		t.Fatalf("mount %s: %v", l.Path, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return bareLoop{dev: throttle.Device{Major: l.Major, Minor: l.Minor}, mnt: mnt}
}

// counter reads what the kernel dispatched for dev from cgroup (the
// cgroup's own blkio.throttle.io_service_bytes, or io_serviced for ios),
// for reads or writes.
func counter(t *testing.T, cgroup string, dev throttle.Device, write, ios bool) uint64 {
	t.Helper()
	name := "blkio.throttle.io_service_bytes"
	if ios {
		name = "blkio.throttle.io_serviced"
	}
	b, err := os.ReadFile(filepath.Join(cgroup, name))
	if err != nil {
		t.Fatal(err)
	}
	st, err := throttle.ParseV1Stat(b)
	if err != nil {
		t.Fatalf("%s/%s: %v", cgroup, name, err)
	}
	if write {
		return st[dev].Write
	}
	return st[dev].Read
}
