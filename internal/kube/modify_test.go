package kube

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestModifyRequestIDIsStable: the same parameters are the same request,
// whatever the map's order, so a retry never applies a change twice; other
// parameters are another request.
func TestModifyRequestIDIsStable(t *testing.T) {
	a := newModifyRequest(map[string]string{"writeIOPS": "10", "readBytesPerSecond": "1Mi"})
	for range 20 {
		if b := newModifyRequest(map[string]string{"readBytesPerSecond": "1Mi", "writeIOPS": "10"}); b.ID != a.ID {
			t.Fatalf("request IDs %s and %s differ for the same parameters", a.ID, b.ID)
		}
	}
	if c := newModifyRequest(map[string]string{"writeIOPS": "11", "readBytesPerSecond": "1Mi"}); c.ID == a.ID {
		t.Fatal("different parameters share a request ID")
	}
}

func TestOwnerNode(t *testing.T) {
	term := func(key string, op corev1.NodeSelectorOperator, values ...string) *corev1.VolumeNodeAffinity {
		return &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}}}}
	}
	const key = "topology.blkio.csi.dev/node"
	for _, c := range []struct {
		name string
		na   *corev1.VolumeNodeAffinity
		want string
	}{
		{"the topology term", term(key, corev1.NodeSelectorOpIn, "node-b"), "node-b"},
		{"no affinity", nil, ""},
		{"another key", term("kubernetes.io/hostname", corev1.NodeSelectorOpIn, "node-b"), ""},
		{"two nodes", term(key, corev1.NodeSelectorOpIn, "node-a", "node-b"), ""},
		{"NotIn", term(key, corev1.NodeSelectorOpNotIn, "node-b"), ""},
	} {
		pv := &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{NodeAffinity: c.na}}
		if got := ownerNode(pv, key); got != c.want {
			t.Errorf("%s: ownerNode = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestAnswer: the PV's annotations answer only the request they name; a
// refusal keeps its code, so csi-resizer sees InvalidArgument (Infeasible).
func TestAnswer(t *testing.T) {
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		AnnotationModifyApplied: "aaa",
		AnnotationModifyRefused: `{"id":"bbb","code":"InvalidArgument","message":"parameter \"writeIOPS\"=\"x\": must be a positive integer"}`,
	}}}
	if done, err := answer(pv, "aaa"); !done || err != nil {
		t.Errorf("applied request: done %v err %v, want done without error", done, err)
	}
	done, err := answer(pv, "bbb")
	if !done || status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != `parameter "writeIOPS"="x": must be a positive integer` {
		t.Errorf("refused request: done %v err %v, want the refusal as InvalidArgument", done, err)
	}
	pv.Annotations[AnnotationModifyRefused] = `{"id":"ddd","code":"NotFound","message":"volume x does not exist on node b"}`
	if _, err := answer(pv, "ddd"); status.Code(err) != codes.NotFound {
		t.Errorf("refusal with NotFound read back as %v", err)
	}
	if done, err := answer(pv, "ccc"); done || err != nil {
		t.Errorf("pending request: done %v err %v, want not done", done, err)
	}
}
