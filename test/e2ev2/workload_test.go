//go:build e2ev2 && linux

package e2ev2

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

const mi = 1 << 20

// The scripts log lines the tests parse:
//
//	e2e measure label=L boot=B start=S end=E   (seconds of /proc/uptime)
//	e2e done boot=B
//
// boot is the kernel's boot_id: after the VM reboots, the restarted
// containers log again and the test tells the runs apart. Every container
// idles afterwards (restartPolicy Always, so that after a reboot the kubelet
// starts them again on the republished volumes).
const scriptHead = `set -e
boot=$(cat /proc/sys/kernel/random/boot_id)
`

const scriptTail = `echo "e2e done boot=$boot"
trap 'exit 0' TERM
while true; do sleep 3600 & wait; done
`

// measure times cmd with /proc/uptime (one clock for every container of
// the VM) and logs it under label.
func measure(label, cmd string) string {
	return fmt.Sprintf("read s _ </proc/uptime\n%s\nread e _ </proc/uptime\necho \"e2e measure label=%s boot=$boot start=$s end=$e\"\n", cmd, label)
}

// directWrite writes MiB with direct IO to path.
func directWrite(path string, mib int) string {
	return fmt.Sprintf("dd if=/dev/zero of=%s bs=1M count=%d oflag=direct 2>/dev/null", path, mib)
}

// bufferedWrite writes MiB through the page cache and fsyncs.
func bufferedWrite(path string, mib int) string {
	return fmt.Sprintf("dd if=/dev/zero of=%s bs=1M count=%d conv=fsync 2>/dev/null", path, mib)
}

// barrier makes the containers of a pod start their IO together: each
// leaves a file on the shared volume and waits for the others' files.
func barrier(dir string, names ...string) string {
	var waits []string
	for _, n := range names {
		waits = append(waits, fmt.Sprintf("[ -e %s/ready-$boot-%s ]", dir, n))
	}
	return fmt.Sprintf("touch %s/ready-$boot-$NAME\nuntil %s; do sleep 0.2; done\n", dir, strings.Join(waits, " && "))
}

// container is a busybox container of class q running script with NAME set.
func (s *suite) container(name string, q nodetest.QOS, script string, mounts ...corev1.VolumeMount) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           s.busyboxImage,
		ImagePullPolicy: corev1.PullNever,
		Command:         []string{"/bin/sh", "-c", scriptHead + script + scriptTail},
		Env:             []corev1.EnvVar{{Name: "NAME", Value: name}},
		Resources:       q.Resources("50m", "48Mi"),
		VolumeMounts:    mounts,
	}
}

func pod(name string, vols []corev1.Volume, containers ...corev1.Container) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: &grace,
			Volumes:                       vols,
			Containers:                    containers,
		},
	}
}

func claimVolume(name, claim string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

func inlineVolume(name string, attrs map[string]string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		CSI: &corev1.CSIVolumeSource{Driver: nodetest.DriverName, VolumeAttributes: attrs}}}
}

// measurement is one measure line of a container.
type measurement struct{ start, end float64 }

// bootID is this boot's kernel boot_id, as the containers see it too.
func bootID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// waitMeasures waits until container of pod logged "e2e done" in this boot
// and returns its measures of this boot by label.
func (s *suite) waitMeasures(t *testing.T, podName, container string, d time.Duration) map[string]measurement {
	t.Helper()
	boot := bootID(t)
	var logs string
	poll(t, d, fmt.Sprintf("container %s/%s done in this boot", podName, container), func(c context.Context) (bool, error) {
		b, err := s.CS.CoreV1().Pods(testNamespace).GetLogs(podName, &corev1.PodLogOptions{Container: container}).DoRaw(c)
		if err != nil {
			return false, err
		}
		logs = string(b)
		return strings.Contains(logs, "e2e done boot="+boot), nil
	})
	out := map[string]measurement{}
	for _, line := range strings.Split(logs, "\n") {
		kv, ok := nodetest.LogFields(line, "e2e measure ")
		if !ok || kv["boot"] != boot {
			continue
		}
		start, err1 := strconv.ParseFloat(kv["start"], 64)
		end, err2 := strconv.ParseFloat(kv["end"], 64)
		if err1 != nil || err2 != nil || end < start {
			t.Fatalf("bad measure line %q", line)
		}
		out[kv["label"]] = measurement{start, end}
	}
	return out
}

// checkThrottled asserts the lower bound that holds under emulation: bytes
// at a limit take at least minShare of bytes/limit seconds. Without the
// limit the VM's loop devices write 100+ MiB/s, so the same bytes take a
// fraction of that; an upper bound on time would only measure how slow
// the emulated CPU is today.
func checkThrottled(t *testing.T, what string, bytes, limit, seconds float64) {
	t.Helper()
	const minShare = 0.75
	want := minShare * bytes / limit
	t.Logf("%-40s %6.1f MiB in %6.2f s = %6.2f MiB/s against a limit of %.1f MiB/s (ratio %.2f)",
		what, bytes/mi, seconds, bytes/seconds/mi, limit/mi, bytes/seconds/limit)
	if seconds < want {
		t.Errorf("%s: %.1f MiB took %.2f s, less than %.2f s (%.0f%% of the time a %.1f MiB/s limit allows): the limit did not hold",
			what, bytes/mi, seconds, want, minShare*100, limit/mi)
	}
}
