package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// CoreAPI is every request the plugin makes to the core API group: it reads
// Pods, claims and volumes, lists, watches and patches PersistentVolumes
// (VolumeAttributesClass changes), and writes Events.
//
// It is this narrow on purpose. client-go's typed clientset
// (k8s.io/client-go/kubernetes) brings every built-in API group, its typed
// client, its apply configurations and OpenAPI support into the binary:
// measured, a program that only imports it idles at twice the resident
// memory of one using a REST client with the core/v1 types, and a plugin runs
// on every node. Core is the REST-client implementation; unit tests adapt
// client-go's fake clientset to this interface.
type CoreAPI interface {
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	GetPersistentVolumeClaim(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error)
	GetPersistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error)
	ListPersistentVolumes(ctx context.Context, opts metav1.ListOptions) (*corev1.PersistentVolumeList, error)
	WatchPersistentVolumes(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	PatchPersistentVolume(ctx context.Context, name string, pt types.PatchType, data []byte) (*corev1.PersistentVolume, error)
	// Events are written by the Event broadcaster (record.EventSink).
	CreateEvent(ctx context.Context, ev *corev1.Event) (*corev1.Event, error)
	UpdateEvent(ctx context.Context, ev *corev1.Event) (*corev1.Event, error)
	PatchEvent(ctx context.Context, ev *corev1.Event, data []byte) (*corev1.Event, error)
}

// Core is CoreAPI on a REST client for /api/v1, with a scheme that knows
// only the core/v1 types (protobuf or JSON, as cfg asks).
type Core struct{ restClient }

var _ CoreAPI = (*Core)(nil)

// NewCore returns a core/v1 client using cfg (copied; cfg is not changed).
// Its scheme knows the core/v1 types, with the meta/v1 options and status
// types AddToScheme registers beside them.
func NewCore(cfg *rest.Config) (*Core, error) {
	rc, err := newRESTClient(cfg, corev1.SchemeGroupVersion, "/api", corev1.AddToScheme)
	if err != nil {
		return nil, err
	}
	return &Core{rc}, nil
}

// GetPod reads one Pod.
func (c *Core) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	out := &corev1.Pod{}
	err := c.rest.Get().Namespace(namespace).Resource("pods").Name(name).Do(ctx).Into(out)
	return out, err
}

// GetPersistentVolumeClaim reads one claim.
func (c *Core) GetPersistentVolumeClaim(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error) {
	out := &corev1.PersistentVolumeClaim{}
	err := c.rest.Get().Namespace(namespace).Resource("persistentvolumeclaims").Name(name).Do(ctx).Into(out)
	return out, err
}

// GetPersistentVolume reads one PersistentVolume.
func (c *Core) GetPersistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error) {
	out := &corev1.PersistentVolume{}
	err := c.rest.Get().Resource("persistentvolumes").Name(name).Do(ctx).Into(out)
	return out, err
}

// ListPersistentVolumes lists the PersistentVolumes that match opts.
func (c *Core) ListPersistentVolumes(ctx context.Context, opts metav1.ListOptions) (*corev1.PersistentVolumeList, error) {
	out := &corev1.PersistentVolumeList{}
	err := c.rest.Get().Resource("persistentvolumes").VersionedParams(&opts, c.params).Do(ctx).Into(out)
	return out, err
}

// WatchPersistentVolumes watches the PersistentVolumes that match opts.
func (c *Core) WatchPersistentVolumes(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return c.rest.Get().Resource("persistentvolumes").VersionedParams(&opts, c.params).Watch(ctx)
}

// PatchPersistentVolume patches one PersistentVolume.
func (c *Core) PatchPersistentVolume(ctx context.Context, name string, pt types.PatchType, data []byte) (*corev1.PersistentVolume, error) {
	out := &corev1.PersistentVolume{}
	err := c.rest.Patch(pt).Resource("persistentvolumes").Name(name).Body(data).Do(ctx).Into(out)
	return out, err
}

// CreateEvent creates ev in its own namespace.
func (c *Core) CreateEvent(ctx context.Context, ev *corev1.Event) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := c.rest.Post().Namespace(ev.Namespace).Resource("events").Body(ev).Do(ctx).Into(out)
	return out, err
}

// UpdateEvent replaces ev (the correlator's count updates).
func (c *Core) UpdateEvent(ctx context.Context, ev *corev1.Event) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := c.rest.Put().Namespace(ev.Namespace).Resource("events").Name(ev.Name).Body(ev).Do(ctx).Into(out)
	return out, err
}

// PatchEvent applies the broadcaster's strategic merge patch to ev.
func (c *Core) PatchEvent(ctx context.Context, ev *corev1.Event, data []byte) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := c.rest.Patch(types.StrategicMergePatchType).Namespace(ev.Namespace).Resource("events").Name(ev.Name).
		Body(data).Do(ctx).Into(out)
	return out, err
}
