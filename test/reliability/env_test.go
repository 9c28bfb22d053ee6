package reliability

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// env is one test's node: a state dir, a work dir for the kubelet's
// staging and target paths, a CSI socket and a kubelet cgroup root.
type env struct {
	base     string
	stateDir string
	workDir  string
	sock     string
	parent   string // kubelet cgroup root, relative to the blkio hierarchy
	starts   int
	// wrap, when set, runs the binary under this command (strace).
	wrap []string
}

type envOption func(*env)

// withStateDir puts the state dir elsewhere (a small filesystem).
func withStateDir(dir string) envOption { return func(e *env) { e.stateDir = dir } }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	skipShort(t)
	testutil.RequireBlkioV1(t)
	e := &env{parent: testutil.NewCgroupParentV1(t), base: t.TempDir()}
	e.stateDir = filepath.Join(e.base, testutil.Prefix+"-state")
	e.workDir = filepath.Join(e.base, testutil.Prefix+"-work")
	e.sock = filepath.Join(e.base, "csi.sock")
	for _, o := range opts {
		o(e)
	}
	if err := os.MkdirAll(e.workDir, 0o750); err != nil {
		t.Fatal(err)
	}
	// Registered before any plugin starts, so it runs after they are killed.
	t.Cleanup(func() { e.sweep(t) })
	return e
}

// newEnvOnExt4 is newEnv with the state dir on a fresh ext4 filesystem of
// size bytes on a loop device of its own, for the tests that run the state
// dir's disk out of space. It returns the env and the filesystem's mount
// point; the device and the mount go with the test.
func newEnvOnExt4(t *testing.T, size int64) (*env, string) {
	t.Helper()
	skipShort(t)
	dev := testutil.NewLoop(t, size)
	mnt := testutil.MountExt4(t, dev.Path)
	return newEnv(t, withStateDir(filepath.Join(mnt, "state"))), mnt
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("reliability test: the real binary on real loop devices, mounts and cgroups; not in -short")
	}
}

// sweep removes what a failed test left: mounts below the test's dirs
// (deepest first), root-level limits of its loop devices, the devices.
func (e *env) sweep(t *testing.T) {
	var mps []string
	for _, dir := range []string{e.base, e.stateDir} {
		mps = append(mps, drivertest.MountsUnder(t, dir)...)
	}
	sort.Slice(mps, func(i, j int) bool { return strings.Count(mps[i], "/") > strings.Count(mps[j], "/") })
	for _, mp := range mps {
		t.Logf("sweep: unmounting leftover %s", mp)
		if err := unix.Unmount(mp, 0); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			t.Errorf("sweep: unmount %s: %v", mp, err)
		}
	}
	devs := append(drivertest.LoopsBackedUnder(t, e.base), drivertest.LoopsBackedUnder(t, e.stateDir)...)
	for _, dev := range devs {
		clearRootLimits(t, dev)
		t.Logf("sweep: detaching leftover %s", dev)
		if err := loop.NewKernel().Detach(dev); err != nil {
			t.Errorf("sweep: detach %s: %v", dev, err)
		}
	}
}

// clearRootLimits lifts the hierarchy root's entries for the loop device
// dev (volume scope writes them; only this test's devices are passed).
func clearRootLimits(t *testing.T, dev string) {
	n, err := throttle.DeviceOf(dev)
	if err != nil {
		return
	}
	for _, k := range throttle.V1Knobs {
		name := filepath.Join(testutil.BlkioV1, string(k))
		if b, err := os.ReadFile(name); err == nil && strings.Contains(string(b), n.String()+" ") {
			_ = os.WriteFile(name, []byte(n.String()+" 0"), 0)
		}
	}
}

// podCgroup makes kubepods/burstable/pod<uid> under the env's parent.
func (e *env) podCgroup(t *testing.T, uid string) string {
	return testutil.MkdirCgroupV1(t, e.podRel(uid))
}

func (e *env) podRel(uid string) string {
	return filepath.Join(e.parent, "kubepods", "burstable", "pod"+uid)
}

// container makes a container cgroup below the pod's, as runc does.
func (e *env) container(t *testing.T, uid, name string) string {
	return testutil.MkdirCgroupV1(t, filepath.Join(e.podRel(uid), name))
}

// staging and target are kubelet-style paths in the work dir.
func (e *env) staging(name string) string {
	return filepath.Join(e.workDir, "plugins", "blkio.csi.dev", name, "globalmount")
}

func (e *env) target(uid, name string) string {
	return filepath.Join(e.workDir, "pods", uid, "volumes", "kubernetes.io~csi", name, "mount")
}
