//go:build e2ev2 && linux

package e2ev2

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

// groupOf waits for the ThrottleGroup of pod's claim and returns its name.
func (s *suite) groupOf(t *testing.T, pod *corev1.Pod, claim string) string {
	t.Helper()
	var name string
	poll(t, 2*time.Minute, fmt.Sprintf("ThrottleGroup of pod %s, claim %s", pod.Name, claim), func(c context.Context) (bool, error) {
		tgs, err := s.ThrottleGroupsOf(c, pod)
		if err != nil {
			return false, err
		}
		for _, tg := range tgs {
			if tg.Spec.PersistentVolumeClaimName == claim {
				name = tg.Name
				return true, nil
			}
		}
		return false, fmt.Errorf("%d ThrottleGroups of the pod, none for the claim", len(tgs))
	})
	return name
}

// patchLimit sets writeBytesPerSecond in the ThrottleGroup's spec.limits.
func (s *suite) patchLimit(t *testing.T, name, wbps string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"limits":{"writeBytesPerSecond":%q}}}`, wbps)
	if _, err := s.Dyn.Resource(nodetest.ThrottleGroups).Namespace(testNamespace).Patch(nodetest.Context(t, time.Minute), name,
		types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch ThrottleGroup %s: %v", name, err)
	}
}
