package kube

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// TestUnbound: only the object the sink keeps for a group — in the pod's
// namespace, controlled by the pod, under the sink's name — may set its
// limits; every other object says why it is ignored.
func TestUnbound(t *testing.T) {
	pod := throttle.PodRef{UID: testUID, Name: "writer", Namespace: "team-a"}
	key := throttle.Key{VolumeID: "blkio-abc", PodUID: testUID}
	st := throttle.GroupStatus{Key: key, Spec: throttle.Spec{Pod: pod}}
	bound := func() *v1alpha1.ThrottleGroup {
		return &v1alpha1.ThrottleGroup{
			ObjectMeta: metav1.ObjectMeta{Name: ObjectName(pod.Name, key), Namespace: "team-a", OwnerReferences: []metav1.OwnerReference{ownerOf(pod)}},
			Spec:       v1alpha1.ThrottleGroupSpec{NodeName: testNode, PodUID: types.UID(testUID), VolumeID: "blkio-abc"},
		}
	}
	for _, tc := range []struct {
		name   string
		edit   func(*v1alpha1.ThrottleGroup)
		exists bool
		want   string // fragment of the reason; "" = bound
	}{
		{"the sink's own object", func(*v1alpha1.ThrottleGroup) {}, true, ""},
		{"copy in another namespace", func(tg *v1alpha1.ThrottleGroup) { tg.Namespace = "mallory" }, true, "is in namespace mallory, but pod " + testUID},
		{"no owner", func(tg *v1alpha1.ThrottleGroup) { tg.OwnerReferences = nil }, true, "not controlled by the pod"},
		{"owner but not controller", func(tg *v1alpha1.ThrottleGroup) { tg.OwnerReferences[0].Controller = nil }, true, "not controlled by the pod"},
		{"controlled by another pod", func(tg *v1alpha1.ThrottleGroup) { tg.OwnerReferences[0].UID = "other" }, true, "not controlled by the pod"},
		{"controlled by a Deployment", func(tg *v1alpha1.ThrottleGroup) {
			tg.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", UID: types.UID(testUID), Controller: ptr.To(true)}}
		}, true, "not controlled by the pod"},
		{"second object for the group", func(tg *v1alpha1.ThrottleGroup) { tg.Name = "writer-faster" }, true, "not in writer-faster"},
		{"group not published here", func(*v1alpha1.ThrottleGroup) {}, false, ""},
		{"forged object for a group not published here", func(tg *v1alpha1.ThrottleGroup) { tg.OwnerReferences = nil }, false, "not controlled by the pod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := bound()
			tc.edit(tg)
			got := unbound(tg, st, tc.exists)
			if (got == "") != (tc.want == "") || !strings.Contains(got, tc.want) {
				t.Errorf("unbound = %q, want %q", got, tc.want)
			}
		})
	}
}
