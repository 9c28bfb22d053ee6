//go:build chart

package helm

import (
	"strings"
	"testing"
)

func TestLintStrict(t *testing.T) {
	h := newHelm(t)
	for name, values := range map[string]string{
		"defaults":   "",
		"sidecars":   sidecarsOn,
		"everything": everythingOn,
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", h.chart, "--namespace", namespace}, valuesFile(t, values)...)
			out, stderr, err := h.run(args...)
			if err != nil {
				t.Fatalf("helm lint --strict: %v\n%s%s", err, out, stderr)
			}
			if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Fatalf("unexpected lint output:\n%s", out)
			}
			// --strict turns warnings into failures already; an [ERROR] or
			// [WARNING] line in a passing run would mean helm changed that.
			for _, bad := range []string{"[ERROR]", "[WARNING]"} {
				if strings.Contains(out, bad) {
					t.Errorf("lint reports %s:\n%s", bad, out)
				}
			}
		})
	}
}

// TestEveryVariantRenders decodes every rendered object strictly, and
// checks which kinds each variant produces.
func TestEveryVariantRenders(t *testing.T) {
	h := newHelm(t)
	for name, tc := range map[string]struct {
		values string
		kinds  string
	}{
		"defaults":   {"", "ServiceAccount StorageClass CustomResourceDefinition ClusterRole ClusterRoleBinding Role RoleBinding Service DaemonSet CSIDriver"},
		"sidecars":   {sidecarsOn, "ServiceAccount StorageClass CustomResourceDefinition ClusterRole ClusterRoleBinding Role RoleBinding Service DaemonSet CSIDriver"},
		"everything": {everythingOn, "ServiceAccount StorageClass StorageClass CustomResourceDefinition ClusterRole ClusterRoleBinding Role RoleBinding Service DaemonSet CSIDriver ServiceMonitor"},
		"minimal": {`
crd: {install: false}
rbac: {create: false}
serviceAccount: {create: false, name: existing}
metrics: {enabled: false}
storageClasses: []
`, "DaemonSet CSIDriver"},
	} {
		t.Run(name, func(t *testing.T) {
			o := h.render(t, tc.values)
			if got := strings.Join(o.kinds, " "); got != tc.kinds {
				t.Errorf("rendered kinds\n got %s\nwant %s", got, tc.kinds)
			}
		})
	}
}

// TestPackagedChartRendersTheSame packages the chart as a user receives it
// (.helmignore applied) and renders the archive: it must give the same
// manifests as the directory, e.g. files/ with the CRD must be inside.
func TestPackagedChartRendersTheSame(t *testing.T) {
	h := newHelm(t)
	dir := t.TempDir()
	out, stderr, err := h.run("package", h.chart, "--destination", dir)
	if err != nil {
		t.Fatalf("helm package: %v\n%s", err, stderr)
	}
	_, archive, ok := strings.Cut(strings.TrimSpace(out), "saved it to: ")
	if !ok {
		t.Fatalf("helm package output: %s", out)
	}
	packaged, stderr, err := h.run("template", releaseName, archive, "--namespace", namespace)
	if err != nil {
		t.Fatalf("helm template %s: %v\n%s", archive, err, stderr)
	}
	if fromDir := h.template(t, ""); packaged != fromDir {
		t.Error("the packaged chart renders differently from charts/csi-blkio")
	}
	list, _, err := h.run("show", "chart", archive)
	if err != nil || !strings.Contains(list, "name: csi-blkio") {
		t.Errorf("helm show chart: %v\n%s", err, list)
	}
}
