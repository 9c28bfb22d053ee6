package v1alpha1_test

import (
	"encoding/json"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	blkiov1alpha1 "github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

func TestAddToSchemeRegistersThrottleGroupKinds(t *testing.T) {
	s := runtime.NewScheme()
	if err := blkiov1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for obj, kind := range map[runtime.Object]string{
		&blkiov1alpha1.ThrottleGroup{}:     "ThrottleGroup",
		&blkiov1alpha1.ThrottleGroupList{}: "ThrottleGroupList",
	} {
		gvks, _, err := s.ObjectKinds(obj)
		if err != nil {
			t.Fatalf("%T not registered: %v", obj, err)
		}
		if got := gvks[0]; got.Group != "blkio.csi.dev" || got.Version != "v1alpha1" || got.Kind != kind {
			t.Errorf("%T registered as %v, want blkio.csi.dev/v1alpha1 %s", obj, got, kind)
		}
	}
}

// fullGroup sets every field that has a pointer, slice or struct below it,
// so that an aliasing deepcopy shows up when the copy is mutated.
func fullGroup() *blkiov1alpha1.ThrottleGroup {
	q := resource.MustParse("20Mi")
	now := metav1.NewTime(time.Unix(1700000000, 0))
	limits := blkiov1alpha1.Limits{ReadBytesPerSecond: &q, WriteBytesPerSecond: &q, ReadIOPS: 1000, WriteIOPS: 500}
	return &blkiov1alpha1.ThrottleGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "tg", Namespace: "ns", Labels: map[string]string{"a": "b"}},
		Spec: blkiov1alpha1.ThrottleGroupSpec{
			NodeName: "node-1", PodName: "writer", PodUID: "uid-1", VolumeID: "pvc-1",
			Scope: blkiov1alpha1.ScopePod, Limits: limits,
		},
		Status: blkiov1alpha1.ThrottleGroupStatus{
			Phase: blkiov1alpha1.PhaseActive, Backend: blkiov1alpha1.BackendV1,
			Cgroups: []string{"kubepods/besteffort/poduid-1/ctr"}, Device: "7:256",
			AppliedLimits:  limits.DeepCopy(),
			Rates:          &blkiov1alpha1.Rates{WriteBytesPerSecond: 20971520},
			Totals:         &blkiov1alpha1.Totals{WriteBytes: 1 << 30},
			LastSampleTime: &now,
			Conditions:     []metav1.Condition{{Type: blkiov1alpha1.ConditionLimitsApplied, Status: metav1.ConditionTrue, LastTransitionTime: now}},
		},
	}
}

func TestDeepCopyDoesNotAlias(t *testing.T) {
	orig := fullGroup()
	cp := orig.DeepCopyObject().(*blkiov1alpha1.ThrottleGroup)
	if !equality.Semantic.DeepEqual(orig, cp) {
		t.Fatalf("copy differs from the original:\n%+v\n%+v", orig, cp)
	}

	cp.Spec.Limits.WriteBytesPerSecond.Add(resource.MustParse("1Mi"))
	cp.Status.AppliedLimits.ReadIOPS = 1
	cp.Status.Cgroups[0] = "changed"
	cp.Status.Rates.WriteBytesPerSecond = 1
	cp.Status.Totals.WriteBytes = 1
	cp.Status.LastSampleTime.Time = time.Unix(0, 0)
	cp.Status.Conditions[0].Status = metav1.ConditionFalse
	cp.Labels["a"] = "changed"

	if !equality.Semantic.DeepEqual(orig, fullGroup()) {
		t.Errorf("mutating the copy changed the original:\n%+v", orig)
	}
}

// TestLimitsAcceptQuantityStringsAndIntegers decodes the two spellings a
// user may write in a live edit (`kubectl patch --type merge`).
func TestLimitsAcceptQuantityStringsAndIntegers(t *testing.T) {
	var spec blkiov1alpha1.ThrottleGroupSpec
	in := `{"nodeName":"n","volumeID":"v","limits":{"readBytesPerSecond":"50Mi","writeBytesPerSecond":1048576,"readIOPS":1000}}`
	if err := json.Unmarshal([]byte(in), &spec); err != nil {
		t.Fatal(err)
	}
	if got := spec.Limits.ReadBytesPerSecond.Value(); got != 50<<20 {
		t.Errorf("readBytesPerSecond = %d, want %d", got, 50<<20)
	}
	if got := spec.Limits.WriteBytesPerSecond.Value(); got != 1<<20 {
		t.Errorf("writeBytesPerSecond = %d, want %d", got, 1<<20)
	}
	if spec.Limits.ReadIOPS != 1000 || spec.Limits.WriteIOPS != 0 {
		t.Errorf("IOPS = %d/%d, want 1000/0", spec.Limits.ReadIOPS, spec.Limits.WriteIOPS)
	}

	out, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	// An integer keeps its decimal spelling; only the string keeps its suffix.
	want := `{"nodeName":"n","volumeID":"v","limits":{"readBytesPerSecond":"50Mi","writeBytesPerSecond":"1048576","readIOPS":1000}}`
	if string(out) != want {
		t.Errorf("marshalled spec\n got %s\nwant %s", out, want)
	}
}
