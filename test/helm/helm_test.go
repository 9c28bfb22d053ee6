//go:build chart

package helm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

const (
	releaseName = "csi-blkio"
	namespace   = "kube-system"
)

// helmRunner runs the project's helm with state directories of its own, so
// that tests neither read nor write the user's helm configuration.
type helmRunner struct {
	bin   string
	chart string
	env   []string
}

func newHelm(t *testing.T) *helmRunner {
	t.Helper()
	root := testutil.RepoRoot(t)
	bin := os.Getenv("CSI_BLKIO_HELM")
	if bin == "" {
		out, err := exec.Command(filepath.Join(root, "hack/tools/helm.sh")).Output()
		if err != nil {
			t.Fatalf("hack/tools/helm.sh: %v", err)
		}
		bin = strings.TrimSpace(string(out))
	}
	home := t.TempDir()
	return &helmRunner{
		bin:   bin,
		chart: filepath.Join(root, "charts/csi-blkio"),
		env: append(os.Environ(),
			"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
			"HELM_DATA_HOME="+filepath.Join(home, "data"),
		),
	}
}

// run executes helm and returns stdout, stderr and the exit error.
func (h *helmRunner) run(args ...string) (string, string, error) {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// valuesFile writes a values override into the test's temp dir and returns
// the -f arguments for it; "" gives no override (the chart's defaults).
func valuesFile(t *testing.T, values string) []string {
	t.Helper()
	if values == "" {
		return nil
	}
	f := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(f, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"-f", f}
}

// template renders the chart with a values override and fails the test when
// helm refuses.
func (h *helmRunner) template(t *testing.T, values string) string {
	t.Helper()
	args := append([]string{"template", releaseName, h.chart, "--namespace", namespace}, valuesFile(t, values)...)
	out, stderr, err := h.run(args...)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr)
	}
	return out
}

// Value overrides the tests render with besides the defaults.
const (
	// sidecarsOn: the optional node-driver-registrar and livenessprobe
	// sidecars instead of csi-blkio's built-in registration and /healthz
	// (the default, and what the e2e runs on a real kubelet).
	sidecarsOn = `
sidecars:
  nodeDriverRegistrar: {enabled: true}
  livenessProbe: {enabled: true}
`
	// everythingOn sets every optional value, so that lint and the object
	// decoding see every branch of the templates.
	everythingOn = `
node:
  kubeletDir: /srv/kubelet
  kubeletCgroupRoot: /custom
  maxVolumes: 50
  hostNetwork: true
  podAnnotations: {a: b}
  podLabels: {team: storage}
  extraEnv: [{name: KUBERNETES_SERVICE_HOST, value: 127.0.0.1}]
imagePullSecrets: [{name: regcred}]
metrics:
  serviceMonitor: {enabled: true, labels: {release: prom}}
crd: {keep: true}
serviceAccount: {annotations: {owner: storage}}
sidecars:
  provisioner: {extraArgs: [--timeout=30s]}
  nodeDriverRegistrar: {enabled: true}
  livenessProbe: {enabled: true}
storageClasses:
  - name: throttled-standard
    default: true
    reclaimPolicy: Retain
    volumeBindingMode: WaitForFirstConsumer
    allowVolumeExpansion: true
    parameters: {readBytesPerSecond: 1048576, writeIOPS: "100", scope: volume, csi.storage.k8s.io/fstype: xfs}
    mountOptions: [noatime]
    labels: {tier: gold}
    annotations: {note: x}
  - name: unthrottled
`
)
