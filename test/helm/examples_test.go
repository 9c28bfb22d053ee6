//go:build chart

package helm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/csi-blkio/csi-blkio/internal/params"
	blkiov1alpha1 "github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

func readExample(t *testing.T, h *helmRunner, name string, into any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(h.chart, "../../examples", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, into); err != nil {
		t.Fatalf("examples/%s does not decode strictly: %v", name, err)
	}
}

// parametersPassSchema runs volume parameters through the chart's values
// schema, which encodes the plugin's parameter rules.
func parametersPassSchema(t *testing.T, h *helmRunner, params map[string]string) {
	t.Helper()
	values, err := yaml.Marshal(map[string]any{"storageClasses": []any{map[string]any{"name": "x", "parameters": params}}})
	if err != nil {
		t.Fatal(err)
	}
	h.render(t, string(values))
}

// TestExamplesAreValid decodes every example into its API type, checks that
// they refer to each other and to the chart's StorageClass, and that their
// parameters pass the rules the chart's schema encodes.
func TestExamplesAreValid(t *testing.T) {
	h := newHelm(t)
	chartClass := h.render(t, "").storageClasses[0].Name

	var sc storagev1.StorageClass
	readExample(t, h, "storageclass.yaml", &sc)
	if sc.Provisioner != "blkio.csi.dev" || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		t.Errorf("storageclass.yaml: provisioner %s binding %v", sc.Provisioner, *sc.VolumeBindingMode)
	}
	parametersPassSchema(t, h, sc.Parameters)
	if _, err := params.Parse(sc.Parameters, params.ModeStorageClass); err != nil {
		t.Errorf("storageclass.yaml: the plugin refuses its parameters: %v", err)
	}

	var burst storagev1.StorageClass
	readExample(t, h, "storageclass-burst.yaml", &burst)
	parametersPassSchema(t, h, burst.Parameters)
	if v, err := params.Parse(burst.Parameters, params.ModeStorageClass); err != nil {
		t.Errorf("storageclass-burst.yaml: the plugin refuses its parameters: %v", err)
	} else if v.Burst.IsZero() || v.Baseline(100<<30).WriteIOPS != 300 {
		t.Errorf("storageclass-burst.yaml: burst %+v, baseline of 100 GiB %v; want a burst and 300 write IOPS", v.Burst, v.Baseline(100<<30))
	}

	var pvc corev1.PersistentVolumeClaim
	readExample(t, h, "pvc.yaml", &pvc)
	if *pvc.Spec.StorageClassName != chartClass {
		t.Errorf("pvc.yaml uses class %s, the chart creates %s", *pvc.Spec.StorageClassName, chartClass)
	}

	var pod corev1.Pod
	readExample(t, h, "pod.yaml", &pod)
	if claim := pod.Spec.Volumes[0].PersistentVolumeClaim; claim == nil || claim.ClaimName != pvc.Name {
		t.Errorf("pod.yaml does not mount claim %s", pvc.Name)
	}

	for _, name := range []string{"volumeattributesclass-slow.yaml", "volumeattributesclass-fast.yaml"} {
		var vac storagev1.VolumeAttributesClass
		readExample(t, h, name, &vac)
		if vac.DriverName != "blkio.csi.dev" {
			t.Errorf("%s: driverName %s", name, vac.DriverName)
		}
		if _, err := params.ApplyMutable(vac.Parameters, params.Volume{}); err != nil {
			t.Errorf("%s: the plugin refuses its parameters: %v", name, err)
		}
	}

	var eph corev1.Pod
	readExample(t, h, "ephemeral-pod.yaml", &eph)
	csi := eph.Spec.Volumes[0].CSI
	if csi == nil || csi.Driver != "blkio.csi.dev" {
		t.Fatalf("ephemeral-pod.yaml has no blkio.csi.dev inline volume")
	}
	if _, err := params.Parse(csi.VolumeAttributes, params.ModeInline); err != nil {
		t.Errorf("ephemeral-pod.yaml: the plugin refuses its volumeAttributes: %v", err)
	}
	attrs := map[string]string{}
	for k, v := range csi.VolumeAttributes {
		attrs[k] = v
	}
	size, ok := attrs["size"]
	if _, err := resource.ParseQuantity(size); !ok || err != nil {
		t.Errorf("ephemeral-pod.yaml size %q: %v", size, err)
	}
	delete(attrs, "size") // inline only; the StorageClass schema refuses it
	parametersPassSchema(t, h, attrs)

	var patch struct {
		Spec struct {
			Limits blkiov1alpha1.Limits `json:"limits"`
		} `json:"spec"`
	}
	readExample(t, h, "limits-patch.yaml", &patch)
	if got := patch.Spec.Limits.WriteBytesPerSecond; got == nil || got.Value() != 10<<20 {
		t.Errorf("limits-patch.yaml writeBytesPerSecond %v, want 10Mi", got)
	}

	readme, err := os.ReadFile(filepath.Join(h.chart, "../../examples/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"storageclass.yaml", "pvc.yaml", "pod.yaml", "ephemeral-pod.yaml", "limits-patch.yaml"} {
		if !strings.Contains(string(readme), f) {
			t.Errorf("examples/README.md does not mention %s", f)
		}
	}
}
