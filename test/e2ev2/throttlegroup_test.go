//go:build e2ev2 && linux

package e2ev2

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	blkiov1 "github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

var throttleGroups = schema.GroupVersionResource{Group: "blkio.csi.dev", Version: "v1alpha1", Resource: "throttlegroups"}

// groupOf waits for the ThrottleGroup of pod's claim and returns its name.
func (s *suite) groupOf(t *testing.T, pod *corev1.Pod, claim string) string {
	t.Helper()
	var name string
	poll(t, 2*time.Minute, fmt.Sprintf("ThrottleGroup of pod %s, claim %s", pod.Name, claim), func(c context.Context) (bool, error) {
		l, err := s.dyn.Resource(throttleGroups).Namespace(testNamespace).List(c, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, u := range l.Items {
			var tg blkiov1.ThrottleGroup
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &tg); err != nil {
				return false, err
			}
			if tg.Spec.PodUID == pod.UID && tg.Spec.PersistentVolumeClaimName == claim {
				name = tg.Name
				return true, nil
			}
		}
		return false, fmt.Errorf("%d ThrottleGroups, none for the claim", len(l.Items))
	})
	return name
}

// patchLimit sets writeBytesPerSecond in the ThrottleGroup's spec.limits.
func (s *suite) patchLimit(t *testing.T, name, wbps string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"limits":{"writeBytesPerSecond":%q}}}`, wbps)
	if _, err := s.dyn.Resource(throttleGroups).Namespace(testNamespace).Patch(ctx(t, time.Minute), name,
		types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch ThrottleGroup %s: %v", name, err)
	}
}
