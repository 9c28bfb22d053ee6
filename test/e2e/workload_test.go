package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

// cgroupParent is the blkio cgroup the kubelet (cgroupfs driver) makes for
// a pod of class q: kubepods/besteffort/pod<UID>, kubepods/burstable/pod<UID>,
// and for Guaranteed no QoS level, kubepods/pod<UID>.
func cgroupParent(q nodetest.QOS, uid types.UID) string {
	switch q {
	case nodetest.BestEffort:
		return "/kubepods/besteffort/pod" + string(uid)
	case nodetest.Burstable:
		return "/kubepods/burstable/pod" + string(uid)
	}
	return "/kubepods/pod" + string(uid)
}

// ioPod is a pod with one container that runs script with the volume at
// /data. The script's output follows a small protocol the tests parse:
//
//	e2e cgroup=<the container's blkio cgroup>
//	e2e device=<major:minor of the filesystem at /data>
//	e2e measure label=<label> start=<s> end=<s>   (one per measure())
//	e2e done
//
// after which the container idles until it is deleted, so that the test
// can look at the kernel and the cluster while the group still exists.
func ioPod(ns, podName, image string, q nodetest.QOS, vol corev1.VolumeSource, script string) *corev1.Pod {
	return shPod(ns, podName, image, q, prologue+script+epilogue, map[string]corev1.VolumeSource{"/data": vol})
}

// shPod is a pod with one container of class q running script with sh,
// with each volume mounted at its path.
func shPod(ns, podName, image string, q nodetest.QOS, script string, vols map[string]corev1.VolumeSource) *corev1.Pod {
	grace := int64(1)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: ns},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:            "io",
				Image:           image,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{"/bin/sh", "-c", script},
				Resources:       q.Resources("100m", "96Mi"),
			}},
		},
	}
	for _, path := range slices.Sorted(maps.Keys(vols)) {
		name := strings.Trim(strings.ReplaceAll(path, "/", "-"), "-")
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: vols[path]})
		c := &pod.Spec.Containers[0]
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: path})
	}
	return pod
}

const prologue = `set -e
echo "e2e cgroup=$(grep ':blkio:' /proc/self/cgroup | cut -d: -f3)"
echo "e2e device=$(awk '$5 == "/data" {print $3}' /proc/self/mountinfo)"
`

// The trap makes the idle container end at once on SIGTERM (as PID 1 it
// would otherwise ignore it and wait for SIGKILL).
const epilogue = `
echo "e2e done"
trap 'exit 0' TERM
sleep 3600 & wait
`

// measure times cmd inside the pod with /proc/uptime (10 ms resolution;
// busybox dd prints no rate) and logs it under label.
func measure(label, cmd string) string {
	return fmt.Sprintf("read a _ </proc/uptime\n%s\nread b _ </proc/uptime\necho \"e2e measure label=%s start=$a end=$b\"\n", cmd, label)
}

// ddWrite writes count blocks of bs to /data/<file> with direct IO.
func ddWrite(file, bs string, count int) string {
	return fmt.Sprintf("dd if=/dev/zero of=/data/%s bs=%s count=%d oflag=direct 2>/dev/null", file, bs, count)
}

// ddRead reads count blocks of bs from /data/<file> with direct IO.
func ddRead(file, bs string, count int) string {
	return fmt.Sprintf("dd if=/data/%s of=/dev/null bs=%s count=%d iflag=direct 2>/dev/null", file, bs, count)
}

// podReport is what an ioPod logged.
type podReport struct {
	cgroup, device string
	// seconds by measure label.
	seconds map[string]float64
}

func parseReport(t *testing.T, logs string) podReport {
	t.Helper()
	r := podReport{seconds: map[string]float64{}}
	for _, line := range strings.Split(logs, "\n") {
		kv, ok := nodetest.LogFields(line, "e2e ")
		if !ok {
			continue
		}
		switch {
		case kv["cgroup"] != "":
			r.cgroup = kv["cgroup"]
		case kv["device"] != "":
			r.device = kv["device"]
		case kv["label"] != "":
			start, err1 := strconv.ParseFloat(kv["start"], 64)
			end, err2 := strconv.ParseFloat(kv["end"], 64)
			if err1 != nil || err2 != nil || end <= start {
				t.Fatalf("bad measure line %q", line)
			}
			r.seconds[kv["label"]] = end - start
		}
	}
	if r.cgroup == "" || r.device == "" {
		t.Fatalf("the pod did not report its cgroup and device; log:\n%s", logs)
	}
	return r
}

// minRatio and maxRatio bound achieved/limit. The kernel's own accuracy
// here is within 1% (docs/architecture.md, "Kernel facts") and the precise figure belongs to the
// benchmarks; the e2e asserts that the limit holds (a missing limit runs at
// disk speed, 50-100x higher). Below the limit the disk or the CPU may be
// the bottleneck on a shared machine (measured: 4 KiB direct writes at
// 0.44x of a 250 IOPS limit while other engineers' fio benchmarks ran, load
// 8 on 2 cores), so the lower bound only catches a limit far too strict;
// that each limit is the right one is checked exactly in the kernel's files.
const minRatio, maxRatio = 0.25, 1.25

// checkRate logs amount/seconds against limit and fails t outside the bound.
func (s *suite) checkRate(t *testing.T, what string, amount, seconds, limit float64, unit string) {
	t.Helper()
	s.checkRateWithin(t, what, amount, seconds, limit, unit, maxRatio)
}

// checkRateWithin is checkRate with another upper bound than maxRatio.
func (s *suite) checkRateWithin(t *testing.T, what string, amount, seconds, limit float64, unit string, maxRatio float64) {
	t.Helper()
	rate := amount / seconds
	ratio := rate / limit
	scale, u := 1.0, unit
	if unit == "B/s" {
		scale, u = 1<<20, "MiB/s"
	}
	line := fmt.Sprintf("%-44s %8.2f %-6s limit %8.2f %-6s ratio %.3f (%.2f s)", what, rate/scale, u, limit/scale, u, ratio, seconds)
	s.record(line)
	t.Log(line)
	if ratio < minRatio || ratio > maxRatio {
		t.Errorf("%s: %.2f %s against a limit of %.2f %s is outside %.2f-%.2fx", what, rate/scale, u, limit/scale, u, minRatio, maxRatio)
	}
}

// kernelLimit reads the value of dev's line in a blkio file of the cgroup
// at path (relative to the blkio hierarchy) on the host; 0 when absent.
func kernelLimit(t *testing.T, cgroup, file, dev string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/blkio", cgroup, file))
	if err != nil {
		t.Fatalf("read the kernel's limits: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == dev {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("%s: bad line %q", file, line)
			}
			return v
		}
	}
	return 0
}
