package nodetest

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	blkiov1 "github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// ThrottleGroups is the resource of the ThrottleGroup API, read through the
// dynamic client (the project has no typed client for it).
var ThrottleGroups = blkiov1.SchemeGroupVersion.WithResource("throttlegroups")

// ThrottleGroupsOf lists the ThrottleGroups of pod: one per volume of the
// pod that csi-blkio throttles.
func (c *Cluster) ThrottleGroupsOf(ctx context.Context, pod *corev1.Pod) ([]blkiov1.ThrottleGroup, error) {
	l, err := c.Dyn.Resource(ThrottleGroups).Namespace(pod.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []blkiov1.ThrottleGroup
	for _, u := range l.Items {
		var tg blkiov1.ThrottleGroup
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &tg); err != nil {
			return nil, err
		}
		if tg.Spec.PodUID == pod.UID {
			out = append(out, tg)
		}
	}
	return out, nil
}
