//go:build e2ev2 && linux

package e2ev2

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

const (
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
	*nodetest.Cluster
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
	// Emulation makes every request slow: a one-minute bound per request.
	cluster, err := nodetest.Connect(e.kubeconfig, pollInterval, time.Minute)
	if err != nil {
		return nil, err
	}
	s := &suite{env: e, Cluster: cluster}
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

// install helm-installs the chart as a node of this kind needs it:
// nodetest's values (local images, host networking, a short stats
// interval), no sidecars that cannot be built here (csi-blkio registers
// with the kubelet and serves /healthz itself), and no csi-resizer:
// expansion and class changes are the v1 e2e's, and leaving it out saves
// an image import and a container start under emulation. The provisioner
// refreshes its CSIStorageCapacity every 10 s, as in the v1 e2e: the
// scheduler places no pod on a new class's claim before the class has one,
// and the chart's default minute would be spent waiting.
func (s *suite) install(t *testing.T) {
	t.Helper()
	values := nodetest.MergeValues(nodetest.ChartValues(s.pluginImage, s.provisionerImage, "6443", 2*time.Second), map[string]any{
		"sidecars": map[string]any{
			"provisioner":         map[string]any{"capacityPollInterval": "10s"},
			"resizer":             map[string]any{"enabled": false},
			"nodeDriverRegistrar": map[string]any{"enabled": false},
			"livenessProbe":       map[string]any{"enabled": false},
		},
	})
	f := t.TempDir() + "/values.yaml"
	if err := nodetest.WriteValues(f, values); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := nodetest.HelmInstall("helm", s.kubeconfig, s.chart, f, 8*time.Minute); err != nil {
		t.Fatalf("helm install: %v\n%s\n%s", err, out, s.describePlugin())
	}
	s.waitRegistered(t)
	t.Logf("helm install and the kubelet's registration of %s took %.1f s", nodetest.DriverName, time.Since(start).Seconds())
}

// waitRegistered waits until the node's CSINode lists the driver.
func (s *suite) waitRegistered(t *testing.T) {
	t.Helper()
	if err := s.WaitDriverRegistered(s.nodeName, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
}

// describePlugin is the plugin's state for a failure message.
func (s *suite) describePlugin() string {
	return nodetest.DescribePlugin("kubectl", s.kubeconfig)
}

// pollInterval is how often the waits ask the apiserver: every request is
// slow under emulation, and polling faster only adds load.
const pollInterval = time.Second

// poll is nodetest.Poll at this suite's interval.
func poll(t *testing.T, d time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	nodetest.Poll(t, pollInterval, d, what, cond)
}
