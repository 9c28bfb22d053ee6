//go:build chart

package helm

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestMetricsServiceSelectsThePluginPods(t *testing.T) {
	o := newHelm(t).render(t, "")
	svc := o.service
	if svc.Spec.ClusterIP != "None" {
		t.Errorf("metrics Service clusterIP %q, want headless", svc.Spec.ClusterIP)
	}
	podLabels := o.daemonSet.Spec.Template.Labels
	for k, v := range svc.Spec.Selector {
		if podLabels[k] != v {
			t.Errorf("Service selects %s=%s, the plugin pods have %q", k, v, podLabels[k])
		}
	}
	if !equality.Semantic.DeepEqual(svc.Spec.Selector, o.daemonSet.Spec.Selector.MatchLabels) {
		t.Errorf("Service selector %v differs from the DaemonSet's %v", svc.Spec.Selector, o.daemonSet.Spec.Selector.MatchLabels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != intstr.FromString("metrics") || svc.Spec.Ports[0].Port != 9809 {
		t.Errorf("Service ports %+v", svc.Spec.Ports)
	}
	if port := namedPort(container(t, o.daemonSet, "csi-blkio"), "metrics"); port != 9809 {
		t.Errorf("plugin metrics port %d", port)
	}
	if o.serviceMonitor != nil {
		t.Error("ServiceMonitor rendered although it is off by default")
	}
}

func TestServiceMonitor(t *testing.T) {
	o := newHelm(t).render(t, "metrics: {serviceMonitor: {enabled: true, interval: 15s, labels: {release: prom}}}\n")
	sm := o.serviceMonitor
	if sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	if sm["apiVersion"] != "monitoring.coreos.com/v1" {
		t.Errorf("apiVersion %v", sm["apiVersion"])
	}
	meta := sm["metadata"].(map[string]any)
	if meta["namespace"] != namespace || meta["labels"].(map[string]any)["release"] != "prom" {
		t.Errorf("metadata %v", meta)
	}
	spec := sm["spec"].(map[string]any)
	sel := spec["selector"].(map[string]any)["matchLabels"].(map[string]any)
	for k, v := range sel {
		if o.service.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%v, the metrics Service has %q", k, v, o.service.Labels[k])
		}
	}
	ep := spec["endpoints"].([]any)[0].(map[string]any)
	if ep["port"] != "metrics" || ep["interval"] != "15s" || ep["path"] != "/metrics" {
		t.Errorf("endpoint %v", ep)
	}
}
