package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// podRef is how Events name a group's pod: built from what the kubelet
// passed with podInfoOnMount, no request needed.
func podRef(p throttle.PodRef) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: p.Namespace, Name: p.Name, UID: types.UID(p.UID)}
}

// ownerOf makes the Pod the controlling owner of its ThrottleGroups, so
// that garbage collection deletes them with it. blockOwnerDeletion stays
// unset: setting it needs the right to update the pod's finalizers, which
// the plugin does not have and does not need.
func ownerOf(p throttle.PodRef) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: types.UID(p.UID), Controller: ptr.To(true)}
}

// livePod GETs the pod by namespace and name and checks its UID: the group
// gets a ThrottleGroup only while that very pod exists. nil, nil: gone (or a
// new pod of the same name). One GET per group, on the worker, never on the
// publish path.
func livePod(ctx context.Context, core CoreAPI, p throttle.PodRef) (*corev1.Pod, error) {
	pod, err := core.GetPod(ctx, p.Namespace, p.Name)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get pod %s/%s: %w", p.Namespace, p.Name, err)
	case string(pod.UID) != p.UID:
		return nil, nil
	}
	return pod, nil
}

// claimOf finds the PersistentVolumeClaim (and its PersistentVolume) of the
// pod through which volumeID is mounted, for the ThrottleGroup's spec.
// Best effort, once per group: up to two GETs per claim of the pod; an
// error leaves the names empty (an inline ephemeral volume has none).
func claimOf(ctx context.Context, core CoreAPI, pod *corev1.Pod, volumeID string) (pvc, pv string) {
	for _, v := range pod.Spec.Volumes {
		var claim string
		switch {
		case v.PersistentVolumeClaim != nil:
			claim = v.PersistentVolumeClaim.ClaimName
		case v.Ephemeral != nil:
			claim = pod.Name + "-" + v.Name // generic ephemeral volumes' naming rule
		default:
			continue
		}
		c, err := core.GetPersistentVolumeClaim(ctx, pod.Namespace, claim)
		if err != nil || c.Spec.VolumeName == "" {
			klog.FromContext(ctx).V(4).Info("Claim of pod not resolved", "pod", klog.KObj(pod), "claim", claim, "err", err)
			continue
		}
		vol, err := core.GetPersistentVolume(ctx, c.Spec.VolumeName)
		if err != nil {
			klog.FromContext(ctx).V(4).Info("Volume of claim not resolved", "pod", klog.KObj(pod), "claim", claim, "err", err)
			continue
		}
		if vol.Spec.CSI != nil && vol.Spec.CSI.VolumeHandle == volumeID {
			return claim, vol.Name
		}
	}
	return "", ""
}
