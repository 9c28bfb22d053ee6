//go:build chart

package helm

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"
)

// TestCRDIsTheGeneratedOne: the template may add labels and the keep
// annotation, nothing else; the schema is the one controller-gen made from
// the Go types (whose drift pkg/apis/blkio/v1alpha1 tests).
func TestCRDIsTheGeneratedOne(t *testing.T) {
	h := newHelm(t)
	raw, err := os.ReadFile(filepath.Join(h.chart, "files/blkio.csi.dev_throttlegroups.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var generated map[string]any
	if err := yaml.Unmarshal(raw, &generated); err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		values   string
		wantKeep bool
	}{"default": {"", false}, "keep": {"crd: {keep: true}\n", true}} {
		t.Run(name, func(t *testing.T) {
			crd := h.render(t, tc.values).crd
			if !equality.Semantic.DeepEqual(crd["spec"], generated["spec"]) {
				t.Error("rendered CRD spec differs from files/blkio.csi.dev_throttlegroups.yaml")
			}
			meta := crd["metadata"].(map[string]any)
			if meta["name"] != "throttlegroups.blkio.csi.dev" {
				t.Errorf("CRD name %v", meta["name"])
			}
			labels, _ := meta["labels"].(map[string]any)
			if labels["app.kubernetes.io/managed-by"] != "Helm" || labels["app.kubernetes.io/instance"] != releaseName {
				t.Errorf("CRD labels %v", labels)
			}
			annotations := meta["annotations"].(map[string]any)
			if keep := annotations["helm.sh/resource-policy"] == "keep"; keep != tc.wantKeep {
				t.Errorf("keep annotation present=%v, want %v", keep, tc.wantKeep)
			}
		})
	}
}

// TestCRDShape pins what users see: the group, scope, the status
// subresource and the printer columns of `kubectl get throttlegroups`.
func TestCRDShape(t *testing.T) {
	crd := newHelm(t).render(t, "").crd
	spec := crd["spec"].(map[string]any)
	if spec["group"] != "blkio.csi.dev" || spec["scope"] != "Namespaced" {
		t.Errorf("group %v scope %v", spec["group"], spec["scope"])
	}
	versions := spec["versions"].([]any)
	if len(versions) != 1 {
		t.Fatalf("%d versions", len(versions))
	}
	v := versions[0].(map[string]any)
	if v["name"] != "v1alpha1" || v["served"] != true || v["storage"] != true {
		t.Errorf("version %v served %v storage %v", v["name"], v["served"], v["storage"])
	}
	if _, ok := v["subresources"].(map[string]any)["status"]; !ok {
		t.Error("no status subresource")
	}
	var columns []string
	for _, c := range v["additionalPrinterColumns"].([]any) {
		col := c.(map[string]any)
		if col["priority"] == nil {
			columns = append(columns, col["name"].(string))
		}
	}
	want := []string{"Pod", "Volume", "Scope", "Read/s", "Write/s", "Read IOPS", "Write IOPS", "Saturation", "Burst", "Phase", "Age"}
	if !equality.Semantic.DeepEqual(columns, want) {
		t.Errorf("printer columns %v, want %v", columns, want)
	}
}

func TestCRDCanBeLeftOut(t *testing.T) {
	if crd := newHelm(t).render(t, "crd: {install: false}\n").crd; crd != nil {
		t.Error("CRD rendered with crd.install=false")
	}
}
