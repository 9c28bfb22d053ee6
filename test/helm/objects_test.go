//go:build chart

package helm

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/yaml"
)

// objects are the rendered manifests, decoded strictly into the API types:
// a misspelt or misplaced field in a template fails the decoding.
type objects struct {
	daemonSet          *appsv1.DaemonSet
	csiDriver          *storagev1.CSIDriver
	serviceAccount     *corev1.ServiceAccount
	service            *corev1.Service
	clusterRole        *rbacv1.ClusterRole
	clusterRoleBinding *rbacv1.ClusterRoleBinding
	role               *rbacv1.Role
	roleBinding        *rbacv1.RoleBinding
	storageClasses     []storagev1.StorageClass
	crd                map[string]any // compared as data with the generated file
	serviceMonitor     map[string]any // prometheus-operator types are not a dependency
	kinds              []string
}

func decode(t *testing.T, manifests string) *objects {
	t.Helper()
	o := &objects{}
	for _, doc := range strings.Split(manifests, "\n---\n") {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("rendered document is not YAML: %v\n%s", err, doc)
		}
		o.kinds = append(o.kinds, head.Kind)
		var target any
		switch head.Kind {
		case "DaemonSet":
			target = fresh(&o.daemonSet)
		case "CSIDriver":
			target = fresh(&o.csiDriver)
		case "ServiceAccount":
			target = fresh(&o.serviceAccount)
		case "Service":
			target = fresh(&o.service)
		case "ClusterRole":
			target = fresh(&o.clusterRole)
		case "ClusterRoleBinding":
			target = fresh(&o.clusterRoleBinding)
		case "Role":
			target = fresh(&o.role)
		case "RoleBinding":
			target = fresh(&o.roleBinding)
		case "StorageClass":
			o.storageClasses = append(o.storageClasses, storagev1.StorageClass{})
			target = &o.storageClasses[len(o.storageClasses)-1]
		case "CustomResourceDefinition":
			target = &o.crd
		case "ServiceMonitor":
			target = &o.serviceMonitor
		default:
			t.Fatalf("the chart renders a %q the tests do not know; add it to decode()", head.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
			t.Fatalf("%s does not decode strictly into its API type: %v\n%s", head.Kind, err, doc)
		}
	}
	return o
}

// fresh points *field at a new zero T and returns it, to decode into.
func fresh[T any](field **T) *T {
	*field = new(T)
	return *field
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			fmt.Fprintln(&b, line)
		}
	}
	return b.String()
}

func (h *helmRunner) render(t *testing.T, values string) *objects {
	t.Helper()
	return decode(t, h.template(t, values))
}

func container(t *testing.T, ds *appsv1.DaemonSet, name string) corev1.Container {
	t.Helper()
	for _, c := range ds.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("DaemonSet has no container %q", name)
	return corev1.Container{}
}

func containerNames(ds *appsv1.DaemonSet) []string {
	var names []string
	for _, c := range ds.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	return names
}

// hostPathOf resolves a path inside a container to the host path it reaches
// through the container's hostPath mounts (the longest mount prefix wins).
func hostPathOf(t *testing.T, ds *appsv1.DaemonSet, c corev1.Container, path string) string {
	t.Helper()
	best := corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		if (path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")) && len(m.MountPath) > len(best.MountPath) {
			best = m
		}
	}
	if best.Name == "" {
		t.Fatalf("container %s mounts nothing at %s", c.Name, path)
	}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.Name == best.Name {
			if v.HostPath == nil {
				t.Fatalf("volume %s of %s is not a hostPath", v.Name, path)
			}
			return v.HostPath.Path + strings.TrimPrefix(path, best.MountPath)
		}
	}
	t.Fatalf("container %s mounts undefined volume %s", c.Name, best.Name)
	return ""
}
