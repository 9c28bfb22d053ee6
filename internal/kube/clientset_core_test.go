package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// clientsetCore is CoreAPI on a typed clientset: unit tests pass client-go's
// fake clientset through it. Only tests link the clientset; the plugin uses
// Core.
type clientsetCore struct{ kc kubernetes.Interface }

var _ CoreAPI = clientsetCore{}

func (c clientsetCore) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	return c.kc.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (c clientsetCore) GetPersistentVolumeClaim(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error) {
	return c.kc.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (c clientsetCore) GetPersistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error) {
	return c.kc.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
}

func (c clientsetCore) ListPersistentVolumes(ctx context.Context, opts metav1.ListOptions) (*corev1.PersistentVolumeList, error) {
	return c.kc.CoreV1().PersistentVolumes().List(ctx, opts)
}

func (c clientsetCore) WatchPersistentVolumes(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return c.kc.CoreV1().PersistentVolumes().Watch(ctx, opts)
}

func (c clientsetCore) PatchPersistentVolume(ctx context.Context, name string, pt types.PatchType, data []byte) (*corev1.PersistentVolume, error) {
	return c.kc.CoreV1().PersistentVolumes().Patch(ctx, name, pt, data, metav1.PatchOptions{})
}

func (c clientsetCore) CreateEvent(ctx context.Context, ev *corev1.Event) (*corev1.Event, error) {
	return c.kc.CoreV1().Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{})
}

func (c clientsetCore) UpdateEvent(ctx context.Context, ev *corev1.Event) (*corev1.Event, error) {
	return c.kc.CoreV1().Events(ev.Namespace).Update(ctx, ev, metav1.UpdateOptions{})
}

func (c clientsetCore) PatchEvent(ctx context.Context, ev *corev1.Event, data []byte) (*corev1.Event, error) {
	return c.kc.CoreV1().Events(ev.Namespace).Patch(ctx, ev.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
}
