package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

const (
	// statsInterval is the plugin's --stats-interval: short, so that
	// ThrottleGroup status and Events follow within seconds.
	statsInterval = 2 * time.Second
)

// config is what the environment gives: the node (hack/cluster, README
// "Variables") and the images and helm hack/e2e.sh prepared.
type config struct {
	kubeconfig, kubectl, nodeName, kubeletDir, clusterDir, apiserverPort      string
	helm, pluginImage, provisionerImage, resizerImage, busyboxImage, fioImage string
}

// allEnv lists the variables configFromEnv reads.
var allEnv = []string{
	"CSI_BLKIO_TEST_KUBECONFIG", "CSI_BLKIO_TEST_KUBECTL", "CSI_BLKIO_TEST_NODE_NAME", "CSI_BLKIO_TEST_KUBELET_DIR",
	"CSI_BLKIO_TEST_CLUSTER_DIR", "CSI_BLKIO_TEST_APISERVER_PORT", "CSI_BLKIO_TEST_BUSYBOX_IMAGE",
	"CSI_BLKIO_E2E_HELM", "CSI_BLKIO_E2E_PLUGIN_IMAGE", "CSI_BLKIO_E2E_PROVISIONER_IMAGE", "CSI_BLKIO_E2E_RESIZER_IMAGE", "CSI_BLKIO_E2E_FIO_IMAGE",
}

func configFromEnv() (config, []string) {
	var missing []string
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	c := config{
		kubeconfig:       get("CSI_BLKIO_TEST_KUBECONFIG"),
		kubectl:          get("CSI_BLKIO_TEST_KUBECTL"),
		nodeName:         get("CSI_BLKIO_TEST_NODE_NAME"),
		kubeletDir:       get("CSI_BLKIO_TEST_KUBELET_DIR"),
		clusterDir:       get("CSI_BLKIO_TEST_CLUSTER_DIR"),
		apiserverPort:    get("CSI_BLKIO_TEST_APISERVER_PORT"),
		busyboxImage:     get("CSI_BLKIO_TEST_BUSYBOX_IMAGE"),
		helm:             get("CSI_BLKIO_E2E_HELM"),
		pluginImage:      get("CSI_BLKIO_E2E_PLUGIN_IMAGE"),
		provisionerImage: get("CSI_BLKIO_E2E_PROVISIONER_IMAGE"),
		resizerImage:     get("CSI_BLKIO_E2E_RESIZER_IMAGE"),
		fioImage:         get("CSI_BLKIO_E2E_FIO_IMAGE"),
	}
	return c, missing
}

// suite is the node with csi-blkio installed.
type suite struct {
	config
	*nodetest.Cluster
	// stateDir is the plugin's --state-dir on the host.
	stateDir string
	// metricsAddr is the plugin's metrics endpoint (host network).
	metricsAddr string
	workDir     string

	// mu guards measurements, which parallel tests add to.
	mu           sync.Mutex
	measurements []string
}

// record keeps a measured figure for the summary printed at the end.
func (s *suite) record(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.measurements = append(s.measurements, line)
}

// setUp installs the chart and waits until the kubelet registered the
// driver. A non-nil suite comes back even on failure, for tearDown.
func setUp(cfg config) (*suite, error) {
	cluster, err := nodetest.Connect(cfg.kubeconfig, pollInterval, 0)
	if err != nil {
		return nil, err
	}
	s := &suite{config: cfg, Cluster: cluster}
	// Under the cluster dir, so that node.sh down removes whatever a
	// crashed run leaves (it also detaches loops backed by files there).
	if s.workDir, err = os.MkdirTemp(cfg.clusterDir, "e2e."); err != nil {
		return nil, err
	}
	// The state dir needs Bidirectional propagation (inline volumes'
	// staging mounts live there), which containerd allows only on a shared
	// mount; on this host that is the kubelet's root dir (kubelet bind
	// mounts it onto itself rshared), not /tmp.
	s.stateDir = filepath.Join(cfg.kubeletDir, "csiblkio-test-state")
	healthPort, err := freePort()
	if err != nil {
		return s, err
	}
	metricsPort, err := freePort()
	if err != nil {
		return s, err
	}
	s.metricsAddr = fmt.Sprintf("127.0.0.1:%d", metricsPort)

	values, err := s.values(healthPort, metricsPort)
	if err != nil {
		return s, err
	}
	start := time.Now()
	if out, err := nodetest.HelmInstall(s.helm, s.kubeconfig, chartDir(), values, 3*time.Minute); err != nil {
		return s, fmt.Errorf("helm install: %v\n%s\n%s", err, out, s.describePlugin())
	}
	if err := s.WaitDriverRegistered(s.nodeName, time.Minute); err != nil {
		return s, fmt.Errorf("%v\n%s", err, s.describePlugin())
	}
	fmt.Printf("e2e: helm install and kubelet registration of %s took %.1f s\n", nodetest.DriverName, time.Since(start).Seconds())
	return s, nil
}

// values writes the chart values of this node: nodetest's (local images,
// host networking, a short stats interval) plus the node's kubelet dir, the
// plugin's state dir, free ports and the resizer sidecar. Registration and
// /healthz are the chart's defaults (csi-blkio does both itself), so the
// e2e runs the path a default install runs.
func (s *suite) values(healthPort, metricsPort int) (string, error) {
	resRepo, resTag := nodetest.SplitImage(s.resizerImage)
	v := nodetest.MergeValues(nodetest.ChartValues(s.pluginImage, s.provisionerImage, s.apiserverPort, statsInterval), map[string]any{
		"node": map[string]any{
			"kubeletDir": s.kubeletDir,
			"stateDir":   s.stateDir,
			"healthPort": healthPort,
			// The tests watch ThrottleGroup numbers move within seconds; a
			// production budget spreads a node's writes over minutes.
			"writeBudget": map[string]any{"perSecond": 20, "burst": 100},
		},
		"metrics": map[string]any{"enabled": true, "port": metricsPort},
		"sidecars": map[string]any{
			"provisioner": map[string]any{"capacityPollInterval": "10s"},
			"resizer": map[string]any{
				"image": map[string]any{"repository": resRepo, "tag": resTag, "pullPolicy": "Never"},
				// One node: the standby polls do not matter, a quick
				// first election does.
				"leaderElection": map[string]any{"leaseDuration": "15s", "renewDeadline": "10s", "retryPeriod": "2s"},
			},
		},
	})
	path := filepath.Join(s.workDir, "values.yaml")
	return path, nodetest.WriteValues(path, v)
}

// describePlugin is the plugin's state for a failure message.
func (s *suite) describePlugin() string {
	return nodetest.DescribePlugin(s.kubectl, s.kubeconfig)
}

func (s *suite) tearDown() {
	s.mu.Lock()
	if len(s.measurements) > 0 {
		fmt.Printf("e2e: measured in the pods:\n  %s\n", strings.Join(s.measurements, "\n  "))
	}
	s.mu.Unlock()
	if out, err := s.helmCmd("uninstall", nodetest.Release, "--namespace", nodetest.PluginNamespace, "--wait", "--timeout", "2m"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: helm uninstall: %v\n%s\n", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = s.CS.CoreV1().Namespaces().Delete(ctx, nodetest.PluginNamespace, metav1.DeleteOptions{})
	if s.workDir != "" {
		_ = os.RemoveAll(s.workDir)
	}
}

func (s *suite) helmCmd(args ...string) (string, error) {
	return nodetest.Run(5*time.Minute, s.helm, append([]string{"--kubeconfig", s.kubeconfig}, args...)...)
}

func (s *suite) kubectlCmd(args ...string) (string, error) {
	return nodetest.Run(5*time.Minute, s.kubectl, append([]string{"--kubeconfig", s.kubeconfig}, args...)...)
}

// chartDir is the chart in this repository (tests run in their package dir).
func chartDir() string {
	d, _ := filepath.Abs(filepath.Join("..", "..", "charts", "csi-blkio"))
	return d
}

// freePort returns a loopback port free right now; the plugin listens on it
// with the host's network.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
