//go:build chart

package helm

import (
	"strings"
	"testing"
)

// rbacAsPlugin asks the apiserver's authorizer (kubectl auth can-i --as)
// what the chart's ServiceAccount may do: what the plugin and csi-provisioner
// need is allowed, neighbouring permissions are not.
func rbacAsPlugin(t *testing.T, c *cluster, ns string) {
	sa := "system:serviceaccount:" + ns + ":csi-blkio"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "throttlegroups.blkio.csi.dev", "-n", "team-a"}, "yes"},
		{[]string{"watch", "throttlegroups.blkio.csi.dev", "--all-namespaces"}, "yes"},
		{[]string{"patch", "throttlegroups.blkio.csi.dev", "--subresource=status", "-n", "team-a"}, "yes"},
		{[]string{"update", "throttlegroups.blkio.csi.dev", "--subresource=status", "-n", "team-a"}, "no"},
		{[]string{"get", "pods", "-n", "team-a"}, "yes"},
		{[]string{"list", "pods", "-n", "team-a"}, "no"},
		{[]string{"delete", "pods", "-n", "team-a"}, "no"},
		{[]string{"get", "nodes"}, "yes"},
		{[]string{"patch", "nodes"}, "no"},
		{[]string{"create", "events", "-n", "team-a"}, "yes"},
		{[]string{"patch", "events.events.k8s.io", "-n", "team-a"}, "yes"},
		{[]string{"delete", "events", "-n", "team-a"}, "no"},
		{[]string{"create", "persistentvolumes"}, "yes"},
		{[]string{"update", "persistentvolumes"}, "no"},
		{[]string{"update", "persistentvolumeclaims", "-n", "team-a"}, "yes"},
		{[]string{"delete", "persistentvolumeclaims", "-n", "team-a"}, "no"},
		{[]string{"watch", "storageclasses.storage.k8s.io"}, "yes"},
		{[]string{"create", "storageclasses.storage.k8s.io"}, "no"},
		{[]string{"create", "csistoragecapacities.storage.k8s.io", "-n", ns}, "yes"},
		{[]string{"create", "csistoragecapacities.storage.k8s.io", "-n", "team-a"}, "no"},
		{[]string{"get", "secrets", "-n", ns}, "no"},
		{[]string{"get", "secrets", "-n", "team-a"}, "no"},
		{[]string{"list", "volumeattachments.storage.k8s.io"}, "no"},
		{[]string{"get", "csinodes.storage.k8s.io"}, "no"},
		{[]string{"update", "leases.coordination.k8s.io", "-n", ns}, "yes"},
		{[]string{"create", "leases.coordination.k8s.io", "-n", "team-a"}, "no"},
		{[]string{"delete", "leases.coordination.k8s.io", "-n", ns}, "no"},
		{[]string{"patch", "persistentvolumeclaims", "--subresource=status", "-n", "team-a"}, "yes"},
		{[]string{"update", "persistentvolumeclaims", "--subresource=status", "-n", "team-a"}, "no"},
		{[]string{"watch", "volumeattributesclasses.storage.k8s.io"}, "yes"},
		{[]string{"create", "volumeattributesclasses.storage.k8s.io"}, "no"},
		{[]string{"delete", "customresourcedefinitions.apiextensions.k8s.io"}, "no"},
	} {
		out, _, _ := c.kubectl("", append([]string{"auth", "can-i", "--as", sa}, tc.args...)...)
		if got := strings.TrimSpace(out); got != tc.want {
			t.Errorf("can %s %s? %q, want %q", sa, strings.Join(tc.args, " "), got, tc.want)
		}
	}
}
