//go:build v2kernel && linux

package v2kernel

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// controllers is what kubelet enables on its cgroups and runc on a pod's:
// io for io.max, memory so that buffered writeback is charged to the writer.
var controllers = []string{"io", "memory"}

// mkCgroup creates the cgroup dir/name, enables the given controllers for its
// children, and removes it when the test ends (children first: t.Cleanup runs
// in reverse order).
func mkCgroup(t *testing.T, dir, name string, enable ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatalf("create cgroup: %v", err)
	}
	t.Cleanup(func() { rmCgroup(t, p) })
	if len(enable) > 0 {
		ctl := "+" + strings.Join(enable, " +")
		writeCgroupFile(t, p, "cgroup.subtree_control", ctl)
	}
	return p
}

// rmCgroup removes an empty cgroup. The kernel may still count a task that
// has just been reaped for a moment (EBUSY), so it retries briefly.
func rmCgroup(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.Remove(p)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("remove cgroup %s: %v", p, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeCgroupFile(t *testing.T, dir, file, value string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		t.Fatalf("write %q to %s/%s: %v", value, dir, file, err)
	}
}

// kubeletLayout is how a kubelet cgroup driver names the cgroups of
// Burstable pods and their containers.
type kubeletLayout struct {
	Name      string
	Kubepods  string                  // the cgroup above all pods
	Burstable string                  // the QoS level below it
	Pod       func(uid string) string // a pod's cgroup below the QoS level
	Container func(id string) string  // a container's cgroup below the pod's
}

var (
	// cgroupfsLayout: kubelet --cgroup-driver=cgroupfs.
	cgroupfsLayout = kubeletLayout{
		Name: "cgroupfs", Kubepods: "kubepods", Burstable: "burstable",
		Pod:       func(uid string) string { return "pod" + uid },
		Container: func(id string) string { return id },
	}
	// systemdLayout: kubelet --cgroup-driver=systemd with containerd; the
	// UID's dashes become underscores in slice names.
	systemdLayout = kubeletLayout{
		Name: "systemd", Kubepods: "kubepods.slice", Burstable: "kubepods-burstable.slice",
		Pod: func(uid string) string {
			return "kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice"
		},
		Container: func(id string) string { return "cri-containerd-" + id + ".scope" },
	}
)

// kubeletTree is a kubelet-style hierarchy below a test's own parent
// cgroup, which plays kubelet's --cgroup-root.
type kubeletTree struct {
	Layout    kubeletLayout
	Root      string // /sys/fs/cgroup/csiblkio-test-<rand>
	Kubepods  string // Root/kubepods
	Burstable string // Root/kubepods/burstable
}

func newKubeletTree(t *testing.T, layout kubeletLayout) kubeletTree {
	t.Helper()
	root := mkCgroup(t, cgroupRoot, testutil.Prefix+"-"+randomHex(t, 4), controllers...)
	kubepods := mkCgroup(t, root, layout.Kubepods, controllers...)
	return kubeletTree{
		Layout: layout, Root: root, Kubepods: kubepods,
		Burstable: mkCgroup(t, kubepods, layout.Burstable, controllers...),
	}
}

// KubeletRoot is the tree's root as kubelet's --cgroup-root names it.
func (k kubeletTree) KubeletRoot() string { return strings.TrimPrefix(k.Root, cgroupRoot) }

// pod creates the cgroup of a Burstable pod, as kubelet does.
func (k kubeletTree) pod(t *testing.T, uid string) string {
	t.Helper()
	return mkCgroup(t, k.Burstable, k.Layout.Pod(uid), controllers...)
}

// container creates a leaf below a pod cgroup, as runc does for a container.
func (k kubeletTree) container(t *testing.T, pod string) string {
	t.Helper()
	return mkCgroup(t, pod, k.Layout.Container(randomHex(t, 8)))
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// newPodUID returns a random UID in the Kubernetes (UUID) format.
func newPodUID(t *testing.T) string {
	h := randomHex(t, 16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// cgroupLine returns the line of a keyed cgroup file (io.max, io.stat) that
// starts with the device, or "" when the file has none.
func cgroupLine(t *testing.T, dir, file string, dev throttle.Device) string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), dev.String()+" ") {
			return s.Text()
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return ""
}

// ioStat reads the device's counters from a cgroup's io.stat
// ("7:0 rbytes=0 wbytes=25165824 rios=0 wios=24 dbytes=0 dios=0"); a device
// the cgroup has not done IO to has no line, which reads as all zero.
func ioStat(t *testing.T, dir string, dev throttle.Device) map[string]uint64 {
	t.Helper()
	stat := map[string]uint64{}
	fields := strings.Fields(cgroupLine(t, dir, "io.stat", dev))
	for _, kv := range fields[min(1, len(fields)):] {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			t.Fatalf("io.stat of %s: cannot parse %q", dir, kv)
		}
		stat[k] = n
	}
	return stat
}
