//go:build e2ev2 && linux

package e2ev2

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

// podSlice is where the kubelet's systemd driver puts a pod of class q, as
// this test derives it on its own: kubepods-<qos>-pod<UID>.slice (dashes of
// the UID turned into underscores, since a dash nests slices) below
// kubepods-<qos>.slice, and a Guaranteed pod directly below kubepods.slice.
func podSlice(q nodetest.QOS, uid types.UID) string {
	u := strings.ReplaceAll(string(uid), "-", "_")
	switch q {
	case nodetest.BestEffort:
		return filepath.Join(cgroupRoot, "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"+u+".slice")
	case nodetest.Burstable:
		return filepath.Join(cgroupRoot, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"+u+".slice")
	}
	return filepath.Join(cgroupRoot, "kubepods.slice/kubepods-pod"+u+".slice")
}

// kubepodsSlice is the ancestor of all pods, where scope "volume" limits go.
var kubepodsSlice = filepath.Join(cgroupRoot, "kubepods.slice")

// ioMaxLine is one device's line of io.max, e.g. "7:0 rbps=max wbps=4194304
// riops=max wiops=max", as a map of key to value ("max" kept as is).
type ioMaxLine map[string]string

// readIOMax parses cgroup's io.max: device -> its line. It is parsed here
// rather than with the driver's parser, so that a bug there cannot hide.
func readIOMax(t *testing.T, cgroup string) map[string]ioMaxLine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cgroup, "io.max"))
	if err != nil {
		t.Fatalf("read io.max: %v", err)
	}
	out := map[string]ioMaxLine{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		line := ioMaxLine{}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			line[k] = v
		}
		out[f[0]] = line
	}
	return out
}

// wbps is what io.max holds as the write byte limit of dev ("" = no line).
func wbps(lines map[string]ioMaxLine, dev string) string {
	if l, ok := lines[dev]; ok {
		return l["wbps"]
	}
	return ""
}

// ioStatBytes reads the written bytes of dev in cgroup's io.stat.
func ioStatWritten(t *testing.T, cgroup, dev string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cgroup, "io.stat"))
	if err != nil {
		t.Fatalf("read io.stat: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != dev {
			continue
		}
		for _, kv := range f[1:] {
			if v, ok := strings.CutPrefix(kv, "wbytes="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("io.stat of %s: bad %q", cgroup, kv)
				}
				return n
			}
		}
	}
	return 0
}

// volumeDevice waits until the pod's volume is published, a mount on its
// own device below the kubelet's pod directory, and returns that device
// ("MAJ:MIN"). Right after a reboot the pod object still shows the Running
// status of before it, and the publish target is an empty directory on the
// node's root disk until the kubelet publishes the volume again, up to
// minutes later on an emulated CPU: a stat of it then would name the root
// disk.
func volumeDevice(t *testing.T, pod *corev1.Pod, volume string) string {
	t.Helper()
	var dev string
	testutil.Eventually(t, 5*time.Minute, fmt.Sprintf("volume %s of pod %s published", volume, pod.Name), func() (bool, string) {
		target, err := publishTarget(pod, volume)
		if err != nil {
			return false, err.Error()
		}
		var st, parent unix.Stat_t
		if err := unix.Stat(target, &st); err != nil {
			return false, err.Error()
		}
		if err := unix.Stat(filepath.Dir(target), &parent); err != nil {
			return false, err.Error()
		}
		if st.Dev == parent.Dev {
			return false, target + " is not a mount yet"
		}
		dev = fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
		return true, ""
	})
	return dev
}

// publishTarget is where the kubelet publishes the pod's volume.
func publishTarget(pod *corev1.Pod, volume string) (string, error) {
	dir := volume
	for _, v := range pod.Spec.Volumes {
		if v.Name == volume && v.PersistentVolumeClaim != nil {
			dir = "" // the PV's name, found below
		}
	}
	base := filepath.Join("/var/lib/kubelet/pods", string(pod.UID), "volumes/kubernetes.io~csi")
	if dir == "" {
		// A claim's publish directory is named after its PV; this test's
		// pods have one claim each.
		entries, err := os.ReadDir(base)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "pvc-") {
				dir = e.Name()
			}
		}
		if dir == "" {
			return "", fmt.Errorf("no claim's directory in %s yet", base)
		}
	}
	return filepath.Join(base, dir, "mount"), nil
}
