package kube

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/csi-blkio/csi-blkio/internal/kube"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// TestChartRBAC makes the plugin's requests with a token of the chart's
// ServiceAccount (TokenRequest) under the chart's rendered RBAC: each kind of
// request the plugin makes is allowed, and neighbouring ones are forbidden.
// (TestThrottleGroupLifecycle runs the plugin itself with such a token and
// fails on any "forbidden" in its log.)
func TestChartRBAC(t *testing.T) {
	c := needCluster(t)
	t.Parallel()
	ctx := context.Background()
	cfg := c.saConfig(t, c.apiserver)
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tgs, err := kube.NewThrottleGroups(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pod := c.createPod(t, "rbac", "csiblkio-test-node-rbac")

	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s as the chart's ServiceAccount: %v, want allowed", what, err)
		}
	}
	forbidden := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s as the chart's ServiceAccount: %v, want Forbidden", what, err)
		}
	}

	// What the sink, the Event recorder and the live-limits controller do.
	_, err = kc.CoreV1().Pods(teamNS).Get(ctx, pod.Name, metav1.GetOptions{})
	allowed("get pod", err)
	tg, err := tgs.Create(ctx, &v1alpha1.ThrottleGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "rbac-probe", Namespace: teamNS, Labels: map[string]string{kube.LabelNode: "csiblkio-test-node-rbac"}},
		Spec:       v1alpha1.ThrottleGroupSpec{NodeName: "csiblkio-test-node-rbac", VolumeID: "rbac-probe"},
	})
	allowed("create throttlegroup", err)
	if err == nil {
		t.Cleanup(func() { c.tgs.Delete(ctx, teamNS, tg.Name) })
		_, err = tgs.Patch(ctx, teamNS, tg.Name, types.MergePatchType, []byte(`{"status":{"phase":"Pending"}}`), "status")
		allowed("patch throttlegroup status", err)
		_, err = tgs.Get(ctx, teamNS, tg.Name)
		allowed("get throttlegroup", err)
	}
	_, err = tgs.List(ctx, metav1.NamespaceAll, metav1.ListOptions{LabelSelector: kube.LabelNode + "=csiblkio-test-node-rbac"})
	allowed("list throttlegroups in all namespaces", err)
	w, err := tgs.Watch(ctx, metav1.NamespaceAll, metav1.ListOptions{LabelSelector: kube.LabelNode + "=csiblkio-test-node-rbac"})
	allowed("watch throttlegroups in all namespaces", err)
	if err == nil {
		w.Stop()
	}
	_, err = kc.CoreV1().Events(teamNS).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "rbac-probe-", Namespace: teamNS},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, Namespace: teamNS, UID: pod.UID},
		Reason:         "RBACProbe", Message: "test", Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: kube.Component},
	}, metav1.CreateOptions{})
	allowed("create event", err)

	// Outside its role.
	_, err = kc.CoreV1().Pods(teamNS).List(ctx, metav1.ListOptions{})
	forbidden("list pods", err)
	forbidden("delete pod", kc.CoreV1().Pods(teamNS).Delete(ctx, pod.Name, metav1.DeleteOptions{}))
	_, err = kc.CoreV1().Secrets(systemNS).List(ctx, metav1.ListOptions{})
	forbidden("list secrets in its own namespace", err)
	_, err = kc.CoreV1().Pods(teamNS).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "rbac-intruder"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	forbidden("create pod", err)
	_, err = kc.CoreV1().Nodes().Patch(ctx, "any", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
	forbidden("patch node", err)
}
