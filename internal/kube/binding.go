package kube

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// ReasonThrottleGroupIgnored (Warning, on the ThrottleGroup): the object
// carries this node's label but is not bound to a group of this node, so
// its spec.limits change nothing.
const ReasonThrottleGroupIgnored = "ThrottleGroupIgnored"

// unbound says why tg may not set the limits of the group it names ("" if
// it may). spec.volumeID and spec.podUID are whatever the object's writer
// put there, and a label is just as easy to copy, so the object must be
// the one the node's sink keeps for that group:
//   - in the namespace of the group's pod (RBAC on a namespace then decides
//     who may edit its pods' limits: a tenant cannot reach another
//     namespace's pod with an object of its own);
//   - controlled by that pod (its controller ownerReference is the Pod whose
//     UID is spec.podUID), as the sink creates it;
//   - named as the sink names it, so that a second object for the same
//     group cannot flip the limits back and forth with the first.
//
// st is the group the object names; ok false means this node has none.
func unbound(tg *v1alpha1.ThrottleGroup, st throttle.GroupStatus, ok bool) string {
	ctrl := metav1.GetControllerOf(tg)
	switch {
	case ctrl == nil || ctrl.Kind != "Pod" || ctrl.APIVersion != corev1.SchemeGroupVersion.String() || ctrl.UID != tg.Spec.PodUID:
		return fmt.Sprintf("it is not controlled by the pod it names (spec.podUID %s): its controller ownerReference must be that Pod", tg.Spec.PodUID)
	case !ok:
		return "" // a group unpublished meanwhile: the object waits for GC, nothing to say
	case tg.Namespace != st.Spec.Pod.Namespace:
		return fmt.Sprintf("it is in namespace %s, but pod %s of volume %s runs in namespace %s", tg.Namespace, tg.Spec.PodUID, tg.Spec.VolumeID, st.Spec.Pod.Namespace)
	case tg.Name != ObjectName(st.Spec.Pod.Name, st.Key):
		return fmt.Sprintf("the node keeps this group's limits in ThrottleGroup %s/%s, not in %s", tg.Namespace, ObjectName(st.Spec.Pod.Name, st.Key), tg.Name)
	}
	return ""
}
