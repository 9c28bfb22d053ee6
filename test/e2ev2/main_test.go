//go:build e2ev2 && linux

package e2ev2

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	driverName      = "blkio.csi.dev"
	release         = "csi-blkio"
	pluginNamespace = "csiblkio-test-system"
	// testNamespace holds the workload pods; fixed, so that the boot after
	// the reboot finds what the first boot left.
	testNamespace = "csiblkio-test-e2ev2"
	// cgroupRoot is the node's unified hierarchy.
	cgroupRoot = "/sys/fs/cgroup"
)

// env is what vm-run.sh exports: the phase and the images on the node.
type env struct {
	phase, kubeconfig, chart                    string
	pluginImage, provisionerImage, busyboxImage string
}

// node is the VM's cluster; nil outside the VM (every test skips).
var node *suite

type suite struct {
	env
	cs  kubernetes.Interface
	dyn dynamic.Interface
	// nodeName is the VM's hostname, which the kubelet registers.
	nodeName string
}

func TestMain(m *testing.M) {
	e := env{
		phase:            os.Getenv("CSI_BLKIO_E2EV2_PHASE"),
		kubeconfig:       os.Getenv("KUBECONFIG"),
		chart:            os.Getenv("CSI_BLKIO_E2EV2_CHART"),
		pluginImage:      os.Getenv("CSI_BLKIO_E2EV2_PLUGIN_IMAGE"),
		provisionerImage: os.Getenv("CSI_BLKIO_E2EV2_PROVISIONER_IMAGE"),
		busyboxImage:     os.Getenv("CSI_BLKIO_E2EV2_BUSYBOX_IMAGE"),
	}
	if e.phase == "" {
		// Not in the VM: TestNode and TestAfterReboot skip.
		os.Exit(m.Run())
	}
	s, err := newSuite(e)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2ev2 set-up: %v\n", err)
		os.Exit(1)
	}
	node = s
	os.Exit(m.Run())
}

func newSuite(e env) (*suite, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig)
	if err != nil {
		return nil, err
	}
	// Emulation makes every request slow; the tests poll, so allow a burst.
	rc.QPS, rc.Burst = 50, 100
	rc.Timeout = time.Minute
	s := &suite{env: e}
	if s.cs, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, err
	}
	if s.dyn, err = dynamic.NewForConfig(rc); err != nil {
		return nil, err
	}
	if s.nodeName, err = os.Hostname(); err != nil {
		return nil, err
	}
	return s, nil
}

// vm returns the node, or skips t outside the VM and in the other phase.
func vm(t *testing.T, phase string) *suite {
	t.Helper()
	if node == nil {
		t.Skip("runs inside the cgroup v2 node VM: hack/e2e-v2.sh")
	}
	if node.phase != phase {
		t.Skipf("belongs to the %s boot; this is the %s boot", phase, node.phase)
	}
	return node
}

// install helm-installs the chart as a node of this kind needs it: local
// images, no sidecars that cannot be built here (csi-blkio registers with
// the kubelet and serves /healthz itself), host networking (no kube-proxy:
// the apiserver is 127.0.0.1), a short stats interval.
func (s *suite) install(t *testing.T) {
	t.Helper()
	repo, tag, _ := strings.Cut(s.pluginImage, ":")
	provRepo, provTag, _ := strings.Cut(s.provisionerImage, ":")
	values := map[string]any{
		"image": map[string]any{"repository": repo, "tag": tag, "pullPolicy": "Never"},
		"node": map[string]any{
			"hostNetwork":   true,
			"statsInterval": "2s",
			"logLevel":      4,
			"extraEnv": []map[string]string{
				{"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
				{"name": "KUBERNETES_SERVICE_PORT", "value": "6443"},
			},
		},
		"sidecars": map[string]any{
			"provisioner": map[string]any{
				"image": map[string]any{"repository": provRepo, "tag": provTag, "pullPolicy": "Never"},
			},
			"nodeDriverRegistrar": map[string]any{"enabled": false},
			"livenessProbe":       map[string]any{"enabled": false},
		},
	}
	b, err := json.Marshal(values) // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	f := t.TempDir() + "/values.yaml"
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := run(10*time.Minute, "helm", "--kubeconfig", s.kubeconfig, "install", release, s.chart,
		"--namespace", pluginNamespace, "--create-namespace", "--values", f, "--wait", "--timeout", "8m"); err != nil {
		t.Fatalf("helm install: %v\n%s\n%s", err, out, s.describePlugin())
	}
	s.waitRegistered(t)
	t.Logf("helm install and the kubelet's registration of %s took %.1f s", driverName, time.Since(start).Seconds())
}

// waitRegistered waits until the node's CSINode lists the driver.
func (s *suite) waitRegistered(t *testing.T) {
	t.Helper()
	poll(t, 5*time.Minute, "CSINode "+s.nodeName+" lists "+driverName, func(c context.Context) (bool, error) {
		n, err := s.cs.StorageV1().CSINodes().Get(c, s.nodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(n.Spec.Drivers, func(d storagev1.CSINodeDriver) bool { return d.Name == driverName }), nil
	})
}

// describePlugin is the plugin's state for a failure message.
func (s *suite) describePlugin() string {
	out, _ := run(time.Minute, "kubectl", "get", "pods", "-A", "-o", "wide")
	logs, _ := run(time.Minute, "kubectl", "logs", "-n", pluginNamespace, "-l", "app.kubernetes.io/component=node",
		"--all-containers", "--tail=60", "--prefix")
	return fmt.Sprintf("--- pods:\n%s\n--- plugin logs:\n%s", out, logs)
}

// run runs a command with a bound and returns its combined output.
func run(d time.Duration, name string, args ...string) (string, error) {
	c, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out, err := exec.CommandContext(c, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// ctx returns a context bounded by d and cancelled when t ends.
func ctx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// poll calls cond every second until it returns true or d passes, then
// fails t with what and cond's last error.
func poll(t *testing.T, d time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	var last error
	start := time.Now()
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, d, true, func(c context.Context) (bool, error) {
		ok, err := cond(c)
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s (last error: %v)", what, d, last)
	}
	if w := time.Since(start); w > 5*time.Second {
		t.Logf("waited %.1f s for %s", w.Seconds(), what)
	}
}
