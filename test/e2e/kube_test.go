package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// ctx returns a context bounded by d and cancelled when t ends.
func ctx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// poll calls cond every interval until it returns true or d passes, then
// fails t with what, and cond's last error, if any.
func poll(t *testing.T, d time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	var last error
	start := time.Now()
	defer func() {
		// Slow waits say so in the log: that is where the stage's time goes.
		if d := time.Since(start); d > 3*time.Second {
			t.Logf("waited %.1f s for %s", d.Seconds(), what)
		}
	}()
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, d, true, func(c context.Context) (bool, error) {
		ok, err := cond(c)
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s (last error: %v)", what, d, last)
	}
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
	if _, err := s.cs.CoreV1().Namespaces().Create(ctx(t, time.Minute), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace controller creates the default ServiceAccount, which
	// pods need; wait for it instead of racing it.
	poll(t, time.Minute, "default ServiceAccount in "+ns, func(c context.Context) (bool, error) {
		_, err := s.cs.CoreV1().ServiceAccounts(ns).Get(c, "default", metav1.GetOptions{})
		return err == nil, err
	})
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpNamespace(t, ns)
		}
		c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		start := time.Now()
		defer func() { t.Logf("namespace %s deleted in %.1f s", ns, time.Since(start).Seconds()) }()
		if err := s.cs.CoreV1().Namespaces().Delete(c, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", ns, err)
			return
		}
		err := wait.PollUntilContextCancel(c, 500*time.Millisecond, true, func(c context.Context) (bool, error) {
			_, err := s.cs.CoreV1().Namespaces().Get(c, ns, metav1.GetOptions{})
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
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	del := corev1.PersistentVolumeReclaimDelete
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: name(t)},
		Provisioner:       driverName,
		Parameters:        params,
		ReclaimPolicy:     &del,
		VolumeBindingMode: &wffc,
	}
	if _, err := s.cs.StorageV1().StorageClasses().Create(ctx(t, time.Minute), sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cs.StorageV1().StorageClasses().Delete(context.Background(), sc.Name, metav1.DeleteOptions{})
	})
	return sc.Name
}

// claim creates a PVC of class sc in ns.
func (s *suite) claim(t *testing.T, ns, claimName, sc, size string) {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claimName, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &sc,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			},
		},
	}
	if _, err := s.cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx(t, time.Minute), pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// boundVolume waits for claim to be bound and returns its PV.
func (s *suite) boundVolume(t *testing.T, ns, claimName string) *corev1.PersistentVolume {
	t.Helper()
	var pvName string
	poll(t, 2*time.Minute, "claim "+claimName+" bound", func(c context.Context) (bool, error) {
		pvc, err := s.cs.CoreV1().PersistentVolumeClaims(ns).Get(c, claimName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pvName = pvc.Spec.VolumeName
		return pvc.Status.Phase == corev1.ClaimBound, nil
	})
	pv, err := s.cs.CoreV1().PersistentVolumes().Get(ctx(t, time.Minute), pvName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

// createPod creates pod and returns it as the apiserver has it.
func (s *suite) createPod(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	p, err := s.cs.CoreV1().Pods(pod.Namespace).Create(ctx(t, time.Minute), pod, metav1.CreateOptions{})
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
		p, err := s.cs.CoreV1().Pods(pod.Namespace).Get(c, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Status.Phase == corev1.PodPending {
			return false, fmt.Errorf("pod pending: %s", podConditions(p))
		}
		b, err := s.cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(c)
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
	if err := s.cs.CoreV1().Pods(pod.Namespace).Delete(ctx(t, time.Minute), pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 2*time.Minute, "pod "+pod.Name+" gone (volumes unpublished)", func(c context.Context) (bool, error) {
		_, err := s.cs.CoreV1().Pods(pod.Namespace).Get(c, pod.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}

// podEvents returns the reasons and messages of the events on pod.
func (s *suite) podEvents(c context.Context, pod *corev1.Pod) ([]corev1.Event, error) {
	l, err := s.cs.CoreV1().Events(pod.Namespace).List(c, metav1.ListOptions{
		FieldSelector: "involvedObject.uid=" + string(pod.UID),
	})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
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
