package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

// pollInterval is how often the waits ask the apiserver: a host node
// answers in milliseconds, and a stage's time is mostly waits.
const pollInterval = 250 * time.Millisecond

// poll is nodetest.Poll at this suite's interval.
func poll(t *testing.T, d time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	nodetest.Poll(t, pollInterval, d, what, cond)
}

// name is a DNS label for t: the test's name, lowercased, with a random
// suffix, under the project's prefix.
func name(t *testing.T) string {
	n := strings.ToLower(t.Name())
	n = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, strings.TrimPrefix(n, "test"))
	if len(n) > 40 {
		n = n[:40]
	}
	return fmt.Sprintf("csiblkio-test-%s-%04x", strings.Trim(n, "-"), rand.IntN(1<<16))
}

// namespace creates a namespace for t. Cleanup deletes it and waits until
// it is gone, so that its pods are unpublished and its claims' volumes
// deleted before the next stage; on failure it first logs what the
// namespace and the plugin show.
func (s *suite) namespace(t *testing.T) string {
	t.Helper()
	ns := name(t)
	s.CreateNamespace(t, ns)
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpNamespace(t, ns)
		}
		c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		start := time.Now()
		defer func() { t.Logf("namespace %s deleted in %.1f s", ns, time.Since(start).Seconds()) }()
		if err := s.CS.CoreV1().Namespaces().Delete(c, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", ns, err)
			return
		}
		err := wait.PollUntilContextCancel(c, 500*time.Millisecond, true, func(c context.Context) (bool, error) {
			_, err := s.CS.CoreV1().Namespaces().Get(c, ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Errorf("namespace %s not gone within 3 minutes: %v", ns, err)
		}
	})
	return ns
}

// dumpNamespace logs the pods, events and claims of ns and the plugin's logs.
func (s *suite) dumpNamespace(t *testing.T, ns string) {
	out, _ := s.kubectlCmd("get", "pods,pvc,pv,throttlegroups", "-n", ns, "-o", "wide")
	events, _ := s.kubectlCmd("get", "events", "-n", ns, "--sort-by=.lastTimestamp")
	t.Logf("--- namespace %s:\n%s\n--- events:\n%s\n%s", ns, out, tail(events, 40), s.describePlugin())
}

// storageClass creates a WaitForFirstConsumer StorageClass of csi-blkio
// with params and deletes it in cleanup.
func (s *suite) storageClass(t *testing.T, params map[string]string) string {
	t.Helper()
	sc := nodetest.StorageClass(name(t), params)
	s.CreateStorageClass(t, sc)
	t.Cleanup(func() {
		_ = s.CS.StorageV1().StorageClasses().Delete(context.Background(), sc.Name, metav1.DeleteOptions{})
	})
	return sc.Name
}

// claim creates a PVC of class sc in ns.
func (s *suite) claim(t *testing.T, ns, claimName, sc, size string) {
	t.Helper()
	s.CreateClaim(t, nodetest.Claim(ns, claimName, sc, size))
}

// boundVolume waits for claim to be bound and returns its PV.
func (s *suite) boundVolume(t *testing.T, ns, claimName string) *corev1.PersistentVolume {
	t.Helper()
	var pvName string
	poll(t, 2*time.Minute, "claim "+claimName+" bound", func(c context.Context) (bool, error) {
		pvc, err := s.CS.CoreV1().PersistentVolumeClaims(ns).Get(c, claimName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pvName = pvc.Spec.VolumeName
		return pvc.Status.Phase == corev1.ClaimBound, nil
	})
	pv, err := s.CS.CoreV1().PersistentVolumes().Get(nodetest.Context(t, time.Minute), pvName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

// createPod creates pod and returns it as the apiserver has it.
func (s *suite) createPod(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	p, err := s.CS.CoreV1().Pods(pod.Namespace).Create(nodetest.Context(t, time.Minute), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitLog waits until the pod's log has a line starting with marker and
// returns the whole log; a pod that fails or ends first fails t.
func (s *suite) waitLog(t *testing.T, pod *corev1.Pod, marker string, d time.Duration) string {
	t.Helper()
	var logs string
	poll(t, d, fmt.Sprintf("pod %s logging %q", pod.Name, marker), func(c context.Context) (bool, error) {
		p, err := s.CS.CoreV1().Pods(pod.Namespace).Get(c, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Status.Phase == corev1.PodPending {
			return false, fmt.Errorf("pod pending: %s", podConditions(p))
		}
		b, err := s.CS.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(c)
		if err != nil {
			return false, err
		}
		logs = string(b)
		if hasLine(logs, marker) {
			return true, nil
		}
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			t.Fatalf("pod %s ended (%s) before logging %q; log:\n%s", pod.Name, p.Status.Phase, marker, logs)
		}
		return false, nil
	})
	return logs
}

// deletePod deletes a pod and waits until it is gone: the kubelet has
// unpublished its volumes.
func (s *suite) deletePod(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if err := s.CS.CoreV1().Pods(pod.Namespace).Delete(nodetest.Context(t, time.Minute), pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 2*time.Minute, "pod "+pod.Name+" gone (volumes unpublished)", func(c context.Context) (bool, error) {
		_, err := s.CS.CoreV1().Pods(pod.Namespace).Get(c, pod.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}

// podEvents returns the reasons and messages of the events on pod.
func (s *suite) podEvents(c context.Context, pod *corev1.Pod) ([]corev1.Event, error) {
	l, err := s.CS.CoreV1().Events(pod.Namespace).List(c, metav1.ListOptions{
		FieldSelector: "involvedObject.uid=" + string(pod.UID),
	})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func podConditions(p *corev1.Pod) string {
	var b strings.Builder
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, "%s=%s %s; ", c.Type, c.Status, c.Message)
	}
	return b.String()
}

func hasLine(text, prefix string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
