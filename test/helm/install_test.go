//go:build chart

package helm

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestInstallUpgradeUninstall installs the chart into a real apiserver, so
// that every object passes the server's validation (the CRD's structural
// schema and CEL rules included), upgrades it with changed values, and
// uninstalls it, after which none of its objects is left.
func TestInstallUpgradeUninstall(t *testing.T) {
	c := newCluster(t)
	ns := fmt.Sprintf("csiblkio-test-chart-%d", time.Now().UnixNano()%100000)
	const release = "csi-blkio"

	out := c.mustHelm(t, "", "install", release, c.helm.chart, "--namespace", ns, "--create-namespace")
	for _, want := range []string{"STATUS: deployed", "kubectl get throttlegroups -A", "rollout status daemonset/csi-blkio-node"} {
		if !strings.Contains(out, want) {
			t.Errorf("helm install output lacks %q:\n%s", want, out)
		}
	}
	installed := c.manifestObjects(t, release, ns)
	want := []string{
		"serviceaccount/csi-blkio", "storageclass.storage.k8s.io/throttled-standard",
		"customresourcedefinition.apiextensions.k8s.io/throttlegroups.blkio.csi.dev",
		"clusterrole.rbac.authorization.k8s.io/csi-blkio", "clusterrolebinding.rbac.authorization.k8s.io/csi-blkio",
		"role.rbac.authorization.k8s.io/csi-blkio", "rolebinding.rbac.authorization.k8s.io/csi-blkio",
		"service/csi-blkio-metrics", "daemonset.apps/csi-blkio-node", "csidriver.storage.k8s.io/blkio.csi.dev",
	}
	if !sameSet(installed, want) {
		t.Fatalf("objects on the server after install\n got %v\nwant %v", installed, want)
	}
	c.mustKubectl(t, "", "wait", "--for=condition=Established", "--timeout=30s", "crd/throttlegroups.blkio.csi.dev")

	t.Run("ThrottleGroup API", func(t *testing.T) { throttleGroupAPI(t, c, ns) })
	t.Run("RBAC as the plugin", func(t *testing.T) { rbacAsPlugin(t, c, ns) })

	// Upgrade: both optional sidecars on, a second StorageClass, another
	// metrics port. The DaemonSet on the server must follow, the ThrottleGroup made
	// above must survive (the CRD is updated in place, not replaced).
	c.mustHelm(t, sidecarsOn+`
metrics: {port: 9900}
storageClasses:
  - name: throttled-standard
    volumeBindingMode: WaitForFirstConsumer
    allowVolumeExpansion: true
    parameters: {readBytesPerSecond: 50Mi, writeBytesPerSecond: 20Mi, readIOPS: 1000, writeIOPS: 500, scope: pod, csi.storage.k8s.io/fstype: ext4}
  - name: throttled-volume
    parameters: {writeBytesPerSecond: 10Mi, scope: volume}
`, "upgrade", release, c.helm.chart, "--namespace", ns)
	containers := c.mustKubectl(t, "", "get", "daemonset/csi-blkio-node", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[*].name}")
	if containers != "csi-blkio csi-provisioner csi-resizer node-driver-registrar liveness-probe" {
		t.Errorf("containers after upgrade: %q", containers)
	}
	args := c.mustKubectl(t, "", "get", "daemonset/csi-blkio-node", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].args}")
	if !strings.Contains(args, "--metrics-address=:9900") {
		t.Errorf("plugin args after upgrade lack --metrics-address=:9900: %s", args)
	}
	for _, flag := range []string{"--registration-socket=", "--health-address="} {
		if strings.Contains(args, flag) {
			t.Errorf("plugin args after upgrade still have %s (the sidecar does it now): %s", flag, args)
		}
	}
	upgraded := c.manifestObjects(t, release, ns)
	if !slices.Contains(upgraded, "storageclass.storage.k8s.io/throttled-volume") {
		t.Errorf("new StorageClass missing after upgrade: %v", upgraded)
	}
	if got := c.mustKubectl(t, "", "get", "throttlegroups", "-n", ns, "-o", "name"); strings.TrimSpace(got) != "throttlegroup.blkio.csi.dev/writer-data" {
		t.Errorf("ThrottleGroups after upgrade: %q", got)
	}
	history := c.mustHelm(t, "", "history", release, "--namespace", ns)
	if !strings.Contains(history, "superseded") || !strings.Contains(history, "deployed") {
		t.Errorf("helm history:\n%s", history)
	}

	// What the chart README warns about: StorageClass parameters are
	// immutable, so changing a class's limits fails the upgrade.
	_, stderr, err := c.helm.run(append([]string{"upgrade", release, c.helm.chart, "--namespace", ns},
		valuesFile(t, sidecarsOn+`
metrics: {port: 9900}
storageClasses:
  - name: throttled-standard
    parameters: {writeBytesPerSecond: 5Mi}
  - name: throttled-volume
    parameters: {writeBytesPerSecond: 10Mi, scope: volume}
`)...)...)
	if err == nil || !strings.Contains(stderr, "field is immutable") {
		t.Errorf("changing a StorageClass's parameters: err=%v\n%s", err, stderr)
	}

	c.mustHelm(t, "", "uninstall", release, "--namespace", ns)
	c.gone(t, ns, append(installed, upgraded...))
	// Nothing else of the release either: no object with its instance label
	// in any kind it created, and no release record (helm's Secrets).
	leftovers := c.mustKubectl(t, "", "get",
		"serviceaccounts,services,daemonsets,roles,rolebindings,clusterroles,clusterrolebindings,storageclasses,csidrivers,customresourcedefinitions,secrets",
		"--all-namespaces", "-l", "app.kubernetes.io/instance="+release+",app.kubernetes.io/managed-by=Helm", "-o", "name")
	leftovers += c.mustKubectl(t, "", "get", "secrets", "-n", ns, "-l", "owner=helm", "-o", "name")
	if strings.TrimSpace(leftovers) != "" {
		t.Errorf("left behind after helm uninstall:\n%s", leftovers)
	}
	// The CRD went, and with it the API: the ThrottleGroup is gone too.
	if _, stderr, err := c.kubectl("", "get", "throttlegroups", "-n", ns); err == nil || !strings.Contains(stderr, "the server doesn't have a resource type") {
		t.Errorf("throttlegroups still served after uninstall: err=%v %s", err, stderr)
	}
}

// TestUninstallKeepsCRDOnRequest: crd.keep leaves the CRD (and the users'
// ThrottleGroups) behind on purpose.
func TestUninstallKeepsCRDOnRequest(t *testing.T) {
	c := newCluster(t)
	ns := fmt.Sprintf("csiblkio-test-keep-%d", time.Now().UnixNano()%100000)
	const release = "csi-blkio-keep"
	c.mustHelm(t, "crd: {keep: true}\nstorageClasses: []\ndriverName: keep.blkio.csi.dev\n",
		"install", release, c.helm.chart, "--namespace", ns, "--create-namespace")
	installed := c.manifestObjects(t, release, ns)
	c.mustHelm(t, "", "uninstall", release, "--namespace", ns)
	crd := "customresourcedefinition.apiextensions.k8s.io/throttlegroups.blkio.csi.dev"
	if got := strings.TrimSpace(c.mustKubectl(t, "", "get", crd, "-o", "name", "--ignore-not-found")); got != crd {
		t.Errorf("CRD gone despite crd.keep=true")
	}
	var others []string
	for _, o := range installed {
		if o != crd {
			others = append(others, o)
		}
	}
	c.gone(t, ns, others)
	c.mustKubectl(t, "", "delete", crd, "--wait=true")
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
