//go:build chart

package helm

import (
	"strings"
	"testing"
)

func TestLintStrict(t *testing.T) {
	h := newHelm(t)
	for name, values := range map[string]string{
		"defaults":     "",
		"sidecars off": sidecarsOff,
		"everything":   everythingOn,
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
		"defaults":     {"", "ServiceAccount StorageClass CustomResourceDefinition ClusterRole ClusterRoleBinding Role RoleBinding Service DaemonSet CSIDriver"},
		"sidecars off": {sidecarsOff, "ServiceAccount StorageClass CustomResourceDefinition ClusterRole ClusterRoleBinding Role RoleBinding Service DaemonSet CSIDriver"},
		"everything":   {everythingOn, "ServiceAccount StorageClass StorageClass CustomResourceDefinition ClusterRole ClusterRoleBinding Role RoleBinding Service DaemonSet CSIDriver ServiceMonitor"},
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
