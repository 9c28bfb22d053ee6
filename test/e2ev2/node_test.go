//go:build e2ev2 && linux

package e2ev2

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

// The limits of the workloads. Small, so that the throttled IO is a few
// seconds of an emulated machine's time.
const (
	claimLimit  = 4 * mi // pod scope, per claim: both containers share it
	inlineLimit = 3 * mi // pod scope, the inline volume
	volumeLimit = 4 * mi // volume scope, buffered writes
	changedTo   = 2 * mi // the live change
	// MiB each container writes to the claim; the two together take
	// 2*claimMiB/claimLimit seconds on one budget, half that on two.
	claimMiB  = 8
	inlineMiB = 6
)

// Storage classes of the workloads.
const (
	podScopeClass    = "csiblkio-test-e2ev2-pod"
	volumeScopeClass = "csiblkio-test-e2ev2-volume"
)

// The workload pods: one per QoS class with a claim and an inline volume
// (pod scope) and two containers, and one Burstable pod on a volume-scope
// claim. They stay for the reboot boot.
func podScopeName(q nodetest.QOS) string { return "pod-scope-" + strings.ToLower(string(q)) }

const volumeScopePod = "volume-scope"

// TestNode is the first boot: install, workloads, then what a node's
// owners do to their cgroups (the kubelet's periodic QoS update, a plugin
// restart, a live change, systemd reloading its units), checking during or
// after each that io.max still holds every limit. The subtests share the
// workloads; one of them failing does not stop the others.
//
// Why this set: every pod start costs tens of seconds under emulation, so
// the four pods carry all volume kinds and classes at once, and the checks
// after each disturbance re-read the kernel instead of starting new pods.
func TestNode(t *testing.T) {
	s := vm(t, "first")
	s.install(t)
	s.createWorkloads(t)

	// The checks of what the workloads measured only read, so the wait
	// past the kubelet's one-minute QoS update runs beside them (parallel
	// subtests of one group) instead of after everything else.
	t.Run("workloads", func(t *testing.T) {
		t.Run("kubelet QoS reconciliation", func(t *testing.T) {
			t.Parallel()
			before := s.snapshot(t)
			// The kubelet updates the QoS-level cgroups once a minute
			// (and when a pod starts or stops). Wait past a full cycle.
			const cycle = 75 * time.Second
			t.Logf("watching io.max for %s, past the kubelet's one-minute QoS cgroup update", cycle)
			s.watchUnchanged(t, before, "the kubelet's periodic QoS update", nil, cycle)
		})
		t.Run("pod scope", func(t *testing.T) {
			t.Parallel()
			for _, q := range nodetest.AllQOS() {
				t.Run(string(q), func(t *testing.T) { s.checkPodScope(t, q) })
			}
		})
		t.Run("volume scope holds buffered writes", func(t *testing.T) {
			t.Parallel()
			s.checkVolumeScope(t)
		})
	})
	t.Run("plugin restart", s.checkPluginRestart)
	t.Run("live limit change", s.checkLiveChange)
	t.Run("systemctl daemon-reload", func(t *testing.T) {
		before := s.snapshot(t)
		// systemd re-applies its units' cgroup settings during the reload;
		// io.max is read every 100 ms meanwhile and for 5 s after, so that
		// a value lost and restored by the plugin's next sweep shows too.
		done := make(chan error, 1)
		go func() {
			out, err := exec.Command("systemctl", "daemon-reload").CombinedOutput()
			if err != nil {
				err = fmt.Errorf("systemctl daemon-reload: %v\n%s", err, out)
			}
			done <- err
		}()
		s.watchUnchanged(t, before, "systemctl daemon-reload", done, 5*time.Second)
	})
}

// createWorkloads makes the classes, claims and pods and waits until they
// run.
func (s *suite) createWorkloads(t *testing.T) {
	t.Helper()
	c := nodetest.Context(t, 5*time.Minute)
	s.CreateNamespace(t, testNamespace)
	s.CreateStorageClass(t, nodetest.StorageClass(podScopeClass, map[string]string{"writeBytesPerSecond": "4Mi"}))
	s.CreateStorageClass(t, nodetest.StorageClass(volumeScopeClass, map[string]string{"writeBytesPerSecond": "4Mi", "scope": "volume"}))

	data := corev1.VolumeMount{Name: "data", MountPath: "/data"}
	inline := corev1.VolumeMount{Name: "inline", MountPath: "/inline"}
	var pods []*corev1.Pod
	for _, q := range nodetest.AllQOS() {
		claim := "data-" + strings.ToLower(string(q))
		s.CreateClaim(t, nodetest.Claim(testNamespace, claim, podScopeClass, "256Mi"))
		a := s.container("a", q, barrier("/data", "a", "b")+
			measure("claim", directWrite("/data/$NAME", claimMiB))+
			measure("inline", directWrite("/inline/f", inlineMiB)), data, inline)
		b := s.container("b", q, barrier("/data", "a", "b")+
			measure("claim", directWrite("/data/$NAME", claimMiB)), data)
		pods = append(pods, pod(podScopeName(q), []corev1.Volume{
			claimVolume("data", claim),
			inlineVolume("inline", map[string]string{"size": "64Mi", "writeBytesPerSecond": "3Mi"}),
		}, a, b))
	}
	s.CreateClaim(t, nodetest.Claim(testNamespace, "data-volume-scope", volumeScopeClass, "256Mi"))
	pods = append(pods, pod(volumeScopePod, []corev1.Volume{claimVolume("data", "data-volume-scope")},
		s.container("a", nodetest.Burstable, measure("buffered", bufferedWrite("/data/f", claimMiB)), data)))
	for _, p := range pods {
		if _, err := s.CS.CoreV1().Pods(testNamespace).Create(c, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for _, p := range pods {
		s.waitRunning(t, p.Name, 8*time.Minute)
	}
	t.Logf("%d pods with %d volumes running %.1f s after their creation", len(pods), 7, time.Since(start).Seconds())
}

// waitRunning waits until every container of the pod runs and returns the pod.
func (s *suite) waitRunning(t *testing.T, name string, d time.Duration) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	poll(t, d, "pod "+name+" running", func(c context.Context) (bool, error) {
		var err error
		if p, err = s.CS.CoreV1().Pods(testNamespace).Get(c, name, metav1.GetOptions{}); err != nil {
			return false, err
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running == nil {
				return false, fmt.Errorf("container %s: %+v", cs.Name, cs.State)
			}
		}
		return p.Status.Phase == corev1.PodRunning, fmt.Errorf("phase %s", p.Status.Phase)
	})
	return p
}

func (s *suite) getPod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	p, err := s.CS.CoreV1().Pods(testNamespace).Get(nodetest.Context(t, time.Minute), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkPodScope: the pod's slice (named and placed by the systemd driver's
// rules) holds the claim's and the inline volume's limits; the two
// containers writing to the claim at once share one budget (together they
// take at least the time one limit allows for both writes); the inline
// write is held; io.stat of the slice counted the containers' bytes.
func (s *suite) checkPodScope(t *testing.T, q nodetest.QOS) {
	p := s.waitRunning(t, podScopeName(q), 5*time.Minute)
	slice := podSlice(q, p.UID)
	claimDev, inlineDev := volumeDevice(t, p, "data"), volumeDevice(t, p, "inline")
	s.waitLimit(t, slice, claimDev, claimLimit)
	s.waitLimit(t, slice, inlineDev, inlineLimit)

	ma := s.waitMeasures(t, p.Name, "a", 5*time.Minute)
	mb := s.waitMeasures(t, p.Name, "b", 5*time.Minute)
	a, b := ma["claim"], mb["claim"]
	if a.end == 0 || b.end == 0 {
		t.Fatalf("missing claim measures: a=%+v b=%+v", ma, mb)
	}
	window := max(a.end, b.end) - min(a.start, b.start)
	checkThrottled(t, fmt.Sprintf("%s: two containers, one claim", q), 2*claimMiB*mi, claimLimit, window)
	in := ma["inline"]
	checkThrottled(t, fmt.Sprintf("%s: inline volume", q), inlineMiB*mi, inlineLimit, in.end-in.start)
	if got := ioStatWritten(t, slice, claimDev); got < 2*claimMiB*mi {
		t.Errorf("io.stat of %s counts %d bytes written to %s, want at least %d (both containers' writes)", slice, got, claimDev, 2*claimMiB*mi)
	}
}

// checkVolumeScope: the limit of a volume-scope claim sits on
// kubepods.slice, and holds buffered writes flushed by fsync.
func (s *suite) checkVolumeScope(t *testing.T) {
	p := s.waitRunning(t, volumeScopePod, 5*time.Minute)
	dev := volumeDevice(t, p, "data")
	s.waitLimit(t, kubepodsSlice, dev, volumeLimit)
	if l := wbps(readIOMax(t, podSlice(nodetest.Burstable, p.UID)), dev); l != "" {
		t.Errorf("the pod slice has wbps=%s for %s too; a volume-scope limit belongs on kubepods.slice alone", l, dev)
	}
	m := s.waitMeasures(t, p.Name, "a", 5*time.Minute)["buffered"]
	checkThrottled(t, "volume scope: buffered write + fsync", claimMiB*mi, volumeLimit, m.end-m.start)
}

// waitLimit waits until cgroup's io.max holds wbps=want for dev.
func (s *suite) waitLimit(t *testing.T, cgroup, dev string, want int64) {
	t.Helper()
	poll(t, 2*time.Minute, fmt.Sprintf("io.max of %s: %s wbps=%d", cgroup, dev, want), func(context.Context) (bool, error) {
		got := wbps(readIOMax(t, cgroup), dev)
		return got == fmt.Sprint(want), fmt.Errorf("wbps=%q", got)
	})
}

// limitsSnapshot is what io.max holds, per cgroup, for the workloads.
type limitsSnapshot map[string]map[string]ioMaxLine

// snapshot reads io.max of every workload's cgroup and of kubepods.slice.
func (s *suite) snapshot(t *testing.T) limitsSnapshot {
	t.Helper()
	out := limitsSnapshot{kubepodsSlice: readIOMax(t, kubepodsSlice)}
	for _, q := range nodetest.AllQOS() {
		slice := podSlice(q, s.getPod(t, podScopeName(q)).UID)
		out[slice] = readIOMax(t, slice)
		if len(out[slice]) < 2 {
			t.Fatalf("io.max of %s holds %d lines before the check, want 2: %v", slice, len(out[slice]), out[slice])
		}
	}
	return out
}

// checkUnchanged reads io.max again and fails on any difference to before.
func (s *suite) checkUnchanged(t *testing.T, before limitsSnapshot, after string) {
	t.Helper()
	now := s.snapshot(t)
	for cg, lines := range before {
		for dev, line := range lines {
			if got := now[cg][dev]; fmt.Sprint(got) != fmt.Sprint(line) {
				t.Errorf("after %s, io.max of %s for %s is %v, was %v", after, cg, dev, got, line)
			}
		}
	}
}

// watchUnchanged reads io.max every 100 ms until done delivers (nil: at
// once) and then for d more, and fails on the first difference to before.
func (s *suite) watchUnchanged(t *testing.T, before limitsSnapshot, during string, done <-chan error, d time.Duration) {
	t.Helper()
	var end <-chan time.Time
	if done == nil {
		end = time.After(d)
	}
	reads := 0
	for tick := time.NewTicker(100 * time.Millisecond); ; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			done, end = nil, time.After(d)
		case <-end:
			t.Logf("io.max of %d cgroups unchanged over %d reads during and after %s", len(before), reads, during)
			return
		case <-tick.C:
		}
		reads++
		for cg, lines := range before {
			now := readIOMax(t, cg)
			for dev, line := range lines {
				if got := now[dev]; fmt.Sprint(got) != fmt.Sprint(line) {
					t.Fatalf("during or after %s (read %d), io.max of %s for %s is %v, was %v", during, reads, cg, dev, got, line)
				}
			}
		}
	}
}

// checkPluginRestart: deleting the plugin pod leaves the kernel's limits in
// place while no plugin runs, and the new plugin adopts them (the live
// change below goes through it).
func (s *suite) checkPluginRestart(t *testing.T) {
	before := s.snapshot(t)
	start := time.Now()
	old := s.DeletePluginPod(t)
	s.checkUnchanged(t, before, "deleting the plugin pod")
	s.WaitNewPluginPod(t, old, 5*time.Minute)
	t.Logf("the plugin was back %.1f s after its pod was deleted", time.Since(start).Seconds())
	s.checkUnchanged(t, before, "the plugin restart")
}

// checkLiveChange: editing a ThrottleGroup's spec.limits changes io.max of
// the pod's slice; setting it back restores it. Both pods' groups of
// other volumes are untouched.
func (s *suite) checkLiveChange(t *testing.T) {
	p := s.getPod(t, podScopeName(nodetest.Burstable))
	slice := podSlice(nodetest.Burstable, p.UID)
	dev := volumeDevice(t, p, "data")
	tg := s.groupOf(t, p, "data-burstable")
	s.patchLimit(t, tg, "2Mi")
	s.waitLimit(t, slice, dev, changedTo)
	s.patchLimit(t, tg, "4Mi")
	s.waitLimit(t, slice, dev, claimLimit)
}
