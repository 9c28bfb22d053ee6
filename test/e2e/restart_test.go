package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

// chunkScript writes the volume in chunks forever, logging each chunk's
// start and end (host uptime: /proc/uptime is not namespaced, so the test
// can compare it with its own clock).
func chunkScript(chunkMiB int) string {
	return fmt.Sprintf(`trap 'exit 0' TERM
while :; do
  read a _ </proc/uptime
  dd if=/dev/zero of=/data/f bs=1M count=%d oflag=direct 2>/dev/null
  read b _ </proc/uptime
  echo "e2e chunk start=$a end=$b"
done
`, chunkMiB)
}

// chunk is one timed write of a chunkScript pod.
type chunk struct{ start, end float64 }

func parseChunks(t *testing.T, logs string) []chunk {
	t.Helper()
	var out []chunk
	for _, line := range strings.Split(logs, "\n") {
		f, ok := strings.CutPrefix(line, "e2e chunk ")
		if !ok {
			continue
		}
		var c chunk
		if _, err := fmt.Sscanf(f, "start=%g end=%g", &c.start, &c.end); err != nil {
			t.Fatalf("bad chunk line %q: %v", line, err)
		}
		out = append(out, c)
	}
	return out
}

// uptime is the host's /proc/uptime in seconds, the clock the pods log.
func uptime(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPluginRestart deletes the csi-blkio pod while a consumer pod keeps
// writing: the consumer's volume stays mounted and throttled while no
// plugin runs and after the DaemonSet's new pod started, the new pod
// rebuilds the group from its state (metrics, ThrottleGroup status moving
// again), and unpublishing the volume still works afterwards.
//
// Not parallel: it takes the plugin away from every other test.
func TestPluginRestart(t *testing.T) {
	s := node(t)
	ns := s.namespace(t)
	const limit = 8 * mi
	const chunkMiB = 4
	sc := s.storageClass(t, map[string]string{"writeBytesPerSecond": "8Mi"})
	s.claim(t, ns, "data", sc, "1Gi")
	pod := s.createPod(t, ioPod(ns, "consumer", s.busyboxImage, nodetest.Burstable, claimSource("data"), chunkScript(chunkMiB)))
	logs := s.waitLog(t, pod, "e2e chunk", 3*time.Minute)
	r := parseReport(t, logs)
	pv := s.boundVolume(t, ns, "data")
	target := filepath.Join(s.kubeletDir, "pods", string(pod.UID), "volumes", "kubernetes.io~csi", pv.Name, "mount")
	if !mounted(t, target) {
		t.Fatalf("the consumer's volume is not mounted at %s", target)
	}
	check := ioCheck{knob: writeBPS, limit: limit}
	s.checkUserView(t, pod, r, 0, chunkMiB*mi, check)

	down := uptime(t)
	old := s.DeletePluginPod(t)
	poll(t, 2*time.Minute, "old csi-blkio pod "+old.Name+" gone", func(c context.Context) (bool, error) {
		_, err := s.CS.CoreV1().Pods(nodetest.PluginNamespace).Get(c, old.Name, metav1.GetOptions{})
		return err != nil, nil
	})
	gone := uptime(t)
	// No plugin runs now: the kernel alone keeps the volume throttled.
	if !mounted(t, target) {
		t.Errorf("the consumer's volume was unmounted when the plugin stopped")
	}
	if got := kernelLimit(t, r.cgroup, writeBPS, r.device); got != limit {
		t.Errorf("the consumer's container cgroup lost its limit when the plugin stopped: %d, want %d", got, limit)
	}
	fresh := s.WaitNewPluginPod(t, old, 2*time.Minute)
	if err := s.WaitDriverRegistered(s.nodeName, time.Minute); err != nil {
		t.Fatal(err)
	}
	up := uptime(t)
	t.Logf("plugin pod %s deleted at %.1f, gone at %.1f, new pod %s Ready and registered at %.1f (%.1f s without a plugin)",
		old.Name, down, gone, fresh.Name, up, up-gone)

	// The consumer kept writing through all of it, held to its limit.
	var after []chunk
	poll(t, time.Minute, "consumer chunks after the new plugin started", func(c context.Context) (bool, error) {
		b, err := s.CS.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(c)
		if err != nil {
			return false, err
		}
		after = nil
		for _, ch := range parseChunks(t, string(b)) {
			if ch.start >= down {
				after = append(after, ch)
			}
		}
		return len(after) > 0 && after[len(after)-1].start > up+2, nil
	})
	var bytes, secs float64
	for _, ch := range after {
		bytes += chunkMiB * mi
		secs += ch.end - ch.start
		// One chunk is half a second at the limit: blk-throttle may let
		// its first bios through on credit left in the current slice,
		// and /proc/uptime ticks in 10 ms, so one chunk can read well
		// above the limit (measured 1.25x) while a volume without its
		// limit runs 50-100x over. The sum of the chunks is checked
		// against maxRatio below.
		if rate := chunkMiB * mi / (ch.end - ch.start); rate > 2*limit {
			t.Errorf("a chunk at %.1f ran at %.1f MiB/s, over the %d MiB/s limit: the volume was not throttled", ch.start, rate/mi, limit/mi)
		}
	}
	s.checkRate(t, fmt.Sprintf("%s write across the plugin restart (%d chunks)", t.Name(), len(after)), bytes, secs, limit, "B/s")
	if !mounted(t, target) {
		t.Errorf("the consumer's volume is no longer mounted after the restart")
	}

	// The new plugin rebuilt the group from its state: its metrics, read
	// from its table at scrape time, have the group with its limit. (The
	// ThrottleGroup's status numbers follow within the sink's minimum
	// interval, a minute: the new plugin does not rewrite an object that
	// is already right, measured 54 s here, so the test does not wait.)
	s.checkUserView(t, pod, r, 0, 0, check)

	// Unpublish through the new plugin.
	s.deletePod(t, pod)
	if mounted(t, target) {
		t.Errorf("%s is still mounted after the consumer was deleted", target)
	}
	s.checkGroupGone(t, pod)
	s.checkClaimDeletion(t, ns, "data", pv.Spec.CSI.VolumeHandle)
}

// mounted says whether path is a mount point on the host.
func mounted(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}
