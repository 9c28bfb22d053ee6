package kube

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/mount-utils"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/kube"
	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// statsInterval is short so that status fills within seconds; coalescing
// keeps its production defaults.
const statsInterval = time.Second

// plugin is one csi-blkio process: its own node name (so its informer
// selects only its own ThrottleGroups), state dir, kubelet cgroup root and
// apiserver proxy.
type plugin struct {
	c          *cluster
	node       string
	base       string // everything on disk below it
	stateDir   string
	sock       string
	metrics    string // host:port
	parent     string // kubelet cgroup root, relative to the blkio hierarchy
	proxy      *apiProxy
	log        *syncBuffer
	kubeconfig string
	extra      []string // flags after the defaults, on every launch
	cmd        *exec.Cmd
	running    bool          // cmd started and not stopped yet
	exited     chan struct{} // closed when cmd exited; exitErr is then set
	exitErr    error
	conn       *grpc.ClientConn
}

// startPlugin runs `csi-blkio serve` with a kubeconfig holding the chart's
// ServiceAccount token, pointed at a proxy of the test apiserver. extra
// flags go last, so they override the defaults here. The write budget is
// raised above a node's default: these tests watch status numbers move
// within seconds, which a production budget spreads over minutes (the
// budget's own test sets it back).
func startPlugin(t *testing.T, c *cluster, extra ...string) *plugin {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	p := &plugin{
		c:      c,
		node:   testutil.Prefix + "-node-" + hex.EncodeToString(b),
		base:   t.TempDir(),
		parent: testutil.NewCgroupParentV1(t),
		log:    &syncBuffer{},
		extra:  extra,
	}
	p.stateDir = filepath.Join(p.base, "state")
	p.sock = filepath.Join(p.base, "csi.sock")
	t.Cleanup(func() { p.sweep(t) }) // runs last: after the plugin stopped
	p.proxy = newAPIProxy(t, strings.TrimPrefix(c.apiserver, "https://"))
	p.metrics = testutil.FreeLoopbackAddr(t)
	p.kubeconfig = c.writeKubeconfig(t, "https://"+p.proxy.addr)
	// Stop the process even when launch fails after starting it.
	t.Cleanup(func() { p.stop(t) })
	p.launch(t)
	// One cleanup for whichever connection is current: registered here, it
	// runs after every cleanup the test registers later (unpublish,
	// unstage, delete), also when the test relaunched the plugin.
	t.Cleanup(func() { p.conn.Close() })
	return p
}

// launch starts the plugin process (again, after stop: same node name,
// state dir and cgroups, as a restarted pod) and connects to its socket.
func (p *plugin) launch(t *testing.T) {
	t.Helper()
	os.Remove(p.sock)
	p.cmd = exec.Command(p.c.bin, "serve",
		"--endpoint", "unix://"+p.sock, "--node-id", p.node, "--state-dir", p.stateDir,
		"--kubelet-cgroup-root", "/"+p.parent, "--kubeconfig", p.kubeconfig,
		"--metrics-address", p.metrics, "--stats-interval", statsInterval.String(),
		"--kube-api-qps", "20", "--kube-api-burst", "40", "-v", "4",
		"--apiserver-writes-per-second", "50", "--apiserver-write-burst", "100")
	p.cmd.Args = append(p.cmd.Args, p.extra...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.running = true
	exited := make(chan struct{})
	p.exited = exited
	go func() { p.exitErr = p.cmd.Wait(); close(exited) }()
	p.waitReady(t)
	conn, err := grpc.NewClient("unix://"+p.sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	if p.conn != nil {
		p.conn.Close() // of the previous run
	}
	p.conn = conn
}

// readyLimit bounds the plugin's start-up only against a hang: start-up
// waits on the apiserver (informers, recovery's reads), which on a machine
// busy with other builds and tests took over 30 s, so the limit is far
// above anything load alone produced. A plugin that exits fails at once.
const readyLimit = 5 * time.Minute

// waitReady waits until the plugin accepts connections on its socket, which
// it opens only after start-up recovery, and fails the test with its log as
// soon as the process exits instead.
func (p *plugin) waitReady(t *testing.T) {
	t.Helper()
	start := time.Now()
	deadline := time.NewTimer(readyLimit)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.exited:
			p.running = false
			t.Fatalf("csi-blkio exited before it served %s (%v after start): %v\n%s", p.sock, time.Since(start).Round(time.Millisecond), p.exitErr, tail(p.log.String(), 8<<10))
		case <-deadline.C:
			t.Fatalf("csi-blkio still runs but does not accept connections on %s after %v:\n%s", p.sock, readyLimit, tail(p.log.String(), 8<<10))
		case <-tick.C:
			if c, err := net.Dial("unix", p.sock); err == nil {
				c.Close()
				if d := time.Since(start); d > 10*time.Second {
					t.Logf("csi-blkio took %v to serve", d.Round(time.Millisecond))
				}
				return
			}
		}
	}
}

// stop sends SIGTERM (as the kubelet does), waits, and fails the test on a
// race report or an unclean exit.
func (p *plugin) stop(t *testing.T) {
	if !p.running {
		return
	}
	p.running = false
	p.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-p.exited:
		err = p.exitErr
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		err = fmt.Errorf("did not stop within 20 s of SIGTERM: %v", p.exitErr)
	}
	out := p.log.String()
	if err != nil || strings.Contains(out, "DATA RACE") {
		t.Errorf("csi-blkio exited: %v", err)
	}
	if t.Failed() {
		t.Logf("csi-blkio log (last 8 KiB):\n%s", tail(out, 8<<10))
		// The whole log beside the cluster's own, which
		// CSI_BLKIO_TEST_KEEP_LOGS=1 keeps (hack/cluster/with.sh).
		if dir := os.Getenv("CSI_BLKIO_TEST_CLUSTER_DIR"); dir != "" {
			f := filepath.Join(dir, "logs", "csi-blkio-"+p.node+".log")
			if err := os.WriteFile(f, []byte(out), 0o644); err == nil {
				t.Logf("whole csi-blkio log: %s", f)
			}
		}
	}
}

func (p *plugin) nodeClient() csi.NodeClient             { return csi.NewNodeClient(p.conn) }
func (p *plugin) controllerClient() csi.ControllerClient { return csi.NewControllerClient(p.conn) }

// sweep removes what a failed test left: mounts below base, loop devices
// backed by the state dir. A passing test leaves nothing to sweep.
func (p *plugin) sweep(t *testing.T) {
	m := mount.New("")
	left := drivertest.MountsUnder(t, p.base)
	for i := len(left) - 1; i >= 0; i-- {
		t.Logf("sweep: unmounting %s", left[i])
		m.Unmount(left[i])
	}
	for _, dev := range drivertest.LoopsBackedUnder(t, p.stateDir) {
		t.Logf("sweep: detaching %s", dev)
		loop.NewKernel().Detach(dev)
	}
}

// podCgroup makes kubepods/burstable/pod<UID>, as kubelet would.
func (p *plugin) podCgroup(t *testing.T, pod *corev1.Pod) string {
	return testutil.MkdirCgroupV1(t, filepath.Join(p.parent, "kubepods", "burstable", "pod"+string(pod.UID)))
}

// podCgroupPath is where podCgroup makes the pod's cgroup.
func (p *plugin) podCgroupPath(pod *corev1.Pod) string {
	return filepath.Join(testutil.BlkioV1, p.parent, "kubepods", "burstable", "pod"+string(pod.UID))
}

// containerCgroup makes a container's cgroup below the pod's, as runc does
// after the kubelet's NodePublishVolume returned.
func (p *plugin) containerCgroup(t *testing.T, pod *corev1.Pod, name string) string {
	return testutil.MkdirCgroupV1(t, filepath.Join(p.parent, "kubepods", "burstable", "pod"+string(pod.UID), name))
}

// volume is a created and staged volume.
type volume struct {
	id, staging string
}

// stagedVolume creates and stages a volume with params; Cleanup unstages
// and deletes it (after its publications are gone).
func (p *plugin) stagedVolume(t *testing.T, name string, params map[string]string) volume {
	t.Helper()
	ctx := context.Background()
	cv, err := p.controllerClient().CreateVolume(ctx, &csi.CreateVolumeRequest{
		Name: testutil.Prefix + "-" + name, VolumeCapabilities: []*csi.VolumeCapability{testutil.MountCap("")},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 64 << 20}, Parameters: params,
	})
	if err != nil {
		t.Fatalf("CreateVolume: %v", err)
	}
	v := volume{id: cv.GetVolume().GetVolumeId(), staging: filepath.Join(p.base, "staging", name)}
	t.Cleanup(func() {
		if _, err := p.controllerClient().DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: v.id}); err != nil {
			t.Errorf("DeleteVolume %s: %v", v.id, err)
		}
	})
	if _, err := p.nodeClient().NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: v.id, StagingTargetPath: v.staging, VolumeCapability: testutil.MountCap("")}); err != nil {
		t.Fatalf("NodeStageVolume: %v", err)
	}
	t.Cleanup(func() {
		if _, err := p.nodeClient().NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: v.id, StagingTargetPath: v.staging}); err != nil {
			t.Errorf("NodeUnstageVolume %s: %v", v.id, err)
		}
	})
	return v
}

// publish publishes v for pod as the kubelet does (podInfoOnMount) and
// returns the target and the call's latency; Cleanup unpublishes.
func (p *plugin) publish(t *testing.T, v volume, pod *corev1.Pod) (string, time.Duration) {
	t.Helper()
	target := filepath.Join(p.base, "pods", string(pod.UID), "volumes", v.id, "mount")
	start := time.Now()
	_, err := p.nodeClient().NodePublishVolume(context.Background(), &csi.NodePublishVolumeRequest{
		VolumeId: v.id, StagingTargetPath: v.staging, TargetPath: target, VolumeCapability: testutil.MountCap(""),
		VolumeContext: map[string]string{
			"csi.storage.k8s.io/pod.uid": string(pod.UID), "csi.storage.k8s.io/pod.name": pod.Name,
			"csi.storage.k8s.io/pod.namespace": pod.Namespace, "csi.storage.k8s.io/serviceAccount.name": "default",
		},
	})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("NodePublishVolume: %v", err)
	}
	t.Cleanup(func() { p.unpublish(t, v, target) })
	return target, elapsed
}

// podVolume is what most tests start from: a pod on the plugin's node,
// its cgroup, and a volume published for it.
type podVolume struct {
	pod       *corev1.Pod
	podCgroup string
	vol       volume
	target    string
	// latency is how long NodePublishVolume took.
	latency time.Duration
	key     throttle.Key
	// tgName is the name of the pod's ThrottleGroup for the volume.
	tgName string
}

// publishedPod creates pod podName on p's node and its cgroup, and a volume
// volName with params, staged and published for the pod.
func (p *plugin) publishedPod(t *testing.T, c *cluster, podName, volName string, params map[string]string) podVolume {
	t.Helper()
	pv := podVolume{pod: c.createPod(t, podName, p.node)}
	pv.podCgroup = p.podCgroup(t, pv.pod)
	pv.vol = p.stagedVolume(t, volName, params)
	pv.target, pv.latency = p.publish(t, pv.vol, pv.pod)
	pv.key = throttle.Key{VolumeID: pv.vol.id, PodUID: string(pv.pod.UID)}
	pv.tgName = kube.ObjectName(pv.pod.Name, pv.key)
	return pv
}

func (p *plugin) unpublish(t *testing.T, v volume, target string) {
	if _, err := p.nodeClient().NodeUnpublishVolume(context.Background(), &csi.NodeUnpublishVolumeRequest{VolumeId: v.id, TargetPath: target}); err != nil {
		t.Errorf("NodeUnpublishVolume %s: %v", v.id, err)
	}
}

// writer runs two dd loops with direct IO in cgroup, each rewriting the
// same 16 MiB (of path and of path.2) over and over until the test ends
// (or stop is called), so that a long test does not fill the volume. Two,
// so that an IO is queued at the throttle while the other dd waits for a
// CPU or restarts: with one dd in flight a loaded machine held the writer
// below 90% of its limit, and the tests that wait for Saturated or a spent
// burst bucket waited in vain.
func writer(t *testing.T, cgroup, path string) (stop func()) {
	t.Helper()
	loop := "while :; do dd if=/dev/zero of=%s bs=1M count=16 oflag=direct conv=notrunc 2>/dev/null || exit 1; done"
	return startLoop(t, cgroup, fmt.Sprintf("("+loop+") & ("+loop+") & wait", path, path+".2"))
}

// startLoop runs a shell script in cgroup, in its own process group so that
// stopping it stops its dd too, before the volume is unmounted.
func startLoop(t *testing.T, cgroup, script string) (stop func()) {
	t.Helper()
	cmd := testutil.CommandInCgroup(t, cgroup, "/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		// A killed dd exits only when its throttled direct IO completes;
		// until then it holds the volume busy. Wait for the cgroup to empty.
		testutil.Eventually(t, 30*time.Second, "writer gone from "+cgroup, func() (bool, string) {
			procs := readFile(t, filepath.Join(cgroup, "cgroup.procs"))
			return procs == "", procs
		})
	}
	t.Cleanup(stop)
	return stop
}

// syncBuffer collects the plugin's output; the test reads it while the
// process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
