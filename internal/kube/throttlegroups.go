package kube

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

const throttleGroupsResource = "throttlegroups"

// ThrottleGroups is a typed client for the ThrottleGroup resource: the few
// verbs csi-blkio uses, on a REST client for blkio.csi.dev/v1alpha1. It is
// written by hand instead of generated: five verbs do not justify a
// clientset, a lister and an informer factory in the tree.
type ThrottleGroups struct{ restClient }

// NewThrottleGroups returns a client using cfg (copied; cfg is not changed).
func NewThrottleGroups(cfg *rest.Config) (*ThrottleGroups, error) {
	rc, err := newRESTClient(cfg, v1alpha1.SchemeGroupVersion, "/apis", v1alpha1.AddToScheme)
	if err != nil {
		return nil, err
	}
	return &ThrottleGroups{rc}, nil
}

// Get reads one object.
func (c *ThrottleGroups) Get(ctx context.Context, namespace, name string) (*v1alpha1.ThrottleGroup, error) {
	out := &v1alpha1.ThrottleGroup{}
	err := c.rest.Get().Namespace(namespace).Resource(throttleGroupsResource).Name(name).Do(ctx).Into(out)
	return out, err
}

// Create creates tg in its namespace (the server ignores its status).
func (c *ThrottleGroups) Create(ctx context.Context, tg *v1alpha1.ThrottleGroup) (*v1alpha1.ThrottleGroup, error) {
	out := &v1alpha1.ThrottleGroup{}
	err := c.rest.Post().Namespace(tg.Namespace).Resource(throttleGroupsResource).Body(tg).Do(ctx).Into(out)
	return out, err
}

// Update replaces an object's spec and metadata (users' and tests' edits;
// the plugin never rewrites a spec).
func (c *ThrottleGroups) Update(ctx context.Context, tg *v1alpha1.ThrottleGroup) (*v1alpha1.ThrottleGroup, error) {
	out := &v1alpha1.ThrottleGroup{}
	err := c.rest.Put().Namespace(tg.Namespace).Resource(throttleGroupsResource).Name(tg.Name).Body(tg).Do(ctx).Into(out)
	return out, err
}

// Patch patches the object, or its status with subresource "status".
func (c *ThrottleGroups) Patch(ctx context.Context, namespace, name string, pt types.PatchType, data []byte, subresource ...string) (*v1alpha1.ThrottleGroup, error) {
	out := &v1alpha1.ThrottleGroup{}
	err := c.rest.Patch(pt).Namespace(namespace).Resource(throttleGroupsResource).Name(name).
		SubResource(subresource...).Body(data).Do(ctx).Into(out)
	return out, err
}

// Delete deletes one object.
func (c *ThrottleGroups) Delete(ctx context.Context, namespace, name string) error {
	return c.rest.Delete().Namespace(namespace).Resource(throttleGroupsResource).Name(name).Do(ctx).Error()
}

// List lists the objects of a namespace ("" = all) that match opts.
func (c *ThrottleGroups) List(ctx context.Context, namespace string, opts metav1.ListOptions) (*v1alpha1.ThrottleGroupList, error) {
	out := &v1alpha1.ThrottleGroupList{}
	err := c.rest.Get().Namespace(namespace).Resource(throttleGroupsResource).
		VersionedParams(&opts, c.params).Do(ctx).Into(out)
	return out, err
}

// Watch watches the objects of a namespace ("" = all) that match opts.
func (c *ThrottleGroups) Watch(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return c.rest.Get().Namespace(namespace).Resource(throttleGroupsResource).
		VersionedParams(&opts, c.params).Watch(ctx)
}
