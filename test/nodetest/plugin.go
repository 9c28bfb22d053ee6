package nodetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pluginSelector selects the chart's node plugin pods.
const pluginSelector = "app.kubernetes.io/instance=" + Release + ",app.kubernetes.io/component=node"

// PluginPod returns the running, Ready csi-blkio pod.
func (c *Cluster) PluginPod(ctx context.Context) (*corev1.Pod, error) {
	pods, err := c.CS.CoreV1().Pods(PluginNamespace).List(ctx, metav1.ListOptions{LabelSelector: pluginSelector})
	if err != nil {
		return nil, err
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && PodReady(p) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no Ready csi-blkio pod among %d", len(pods.Items))
}

// DeletePluginPod deletes the Ready csi-blkio pod, as a crash or an upgrade
// of the DaemonSet would take it away, and returns it.
func (c *Cluster) DeletePluginPod(t testing.TB) *corev1.Pod {
	t.Helper()
	old, err := c.PluginPod(Context(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CS.CoreV1().Pods(PluginNamespace).Delete(Context(t, time.Minute), old.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	return old
}

// WaitNewPluginPod waits until a csi-blkio pod other than old is Ready and
// returns it.
func (c *Cluster) WaitNewPluginPod(t testing.TB, old *corev1.Pod, d time.Duration) *corev1.Pod {
	t.Helper()
	var fresh *corev1.Pod
	Poll(t, c.Every, d, "a new csi-blkio pod Ready", func(ctx context.Context) (bool, error) {
		p, err := c.PluginPod(ctx)
		if err != nil {
			return false, err
		}
		fresh = p
		return p.UID != old.UID, fmt.Errorf("the Ready pod is still the old %s", old.Name)
	})
	return fresh
}

// PodReady says whether p's Ready condition is true.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// DescribePlugin is the cluster's pods and the plugin's recent logs, for a
// failure message; kubectl is the binary to run against kubeconfig.
func DescribePlugin(kubectl, kubeconfig string) string {
	out, _ := Run(time.Minute, kubectl, "--kubeconfig", kubeconfig, "get", "pods", "-A", "-o", "wide")
	logs, _ := Run(time.Minute, kubectl, "--kubeconfig", kubeconfig, "logs", "-n", PluginNamespace, "-l", pluginSelector,
		"--all-containers", "--tail=60", "--prefix")
	return fmt.Sprintf("--- pods:\n%s\n--- plugin logs:\n%s", out, logs)
}
