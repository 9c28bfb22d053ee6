package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	driverName = "blkio.csi.dev"
	release    = "csi-blkio"
	// pluginNamespace holds the chart's release.
	pluginNamespace = "csiblkio-test-system"
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
	cs  kubernetes.Interface
	dyn dynamic.Interface
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
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		return nil, err
	}
	// The tests poll: client-go's default 5 QPS would throttle them.
	rc.QPS, rc.Burst = 50, 100
	s := &suite{config: cfg}
	if s.cs, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, err
	}
	if s.dyn, err = dynamic.NewForConfig(rc); err != nil {
		return nil, err
	}
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
	out, err := s.helmCmd("install", release, chartDir(), "--namespace", pluginNamespace, "--create-namespace",
		"--values", values, "--wait", "--timeout", "3m")
	if err != nil {
		return s, fmt.Errorf("helm install: %v\n%s\n%s", err, out, s.describePlugin())
	}
	if err := s.waitDriverRegistered(time.Minute); err != nil {
		return s, fmt.Errorf("%v\n%s", err, s.describePlugin())
	}
	fmt.Printf("e2e: helm install and kubelet registration of %s took %.1f s\n", driverName, time.Since(start).Seconds())
	return s, nil
}

// values writes the chart values of this node: local images that cannot be
// pulled, the node's kubelet dir, host networking (no kube-proxy: the
// apiserver is reached on 127.0.0.1) and free ports. Registration and
// /healthz are the chart's defaults (csi-blkio does both itself), so the
// e2e runs the path a default install runs.
func (s *suite) values(healthPort, metricsPort int) (string, error) {
	repo, tag := splitImage(s.pluginImage)
	provRepo, provTag := splitImage(s.provisionerImage)
	resRepo, resTag := splitImage(s.resizerImage)
	v := map[string]any{
		"image": map[string]any{"repository": repo, "tag": tag, "pullPolicy": "Never"},
		"node": map[string]any{
			"kubeletDir":    s.kubeletDir,
			"stateDir":      s.stateDir,
			"hostNetwork":   true,
			"healthPort":    healthPort,
			"statsInterval": statsInterval.String(),
			"logLevel":      4,
			// The tests watch ThrottleGroup numbers move within seconds; a
			// production budget spreads a node's writes over minutes.
			"writeBudget": map[string]any{"perSecond": 20, "burst": 100},
			"extraEnv": []map[string]string{
				{"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
				{"name": "KUBERNETES_SERVICE_PORT", "value": s.apiserverPort},
			},
		},
		"metrics": map[string]any{"enabled": true, "port": metricsPort},
		"sidecars": map[string]any{
			"provisioner": map[string]any{
				"image":                map[string]any{"repository": provRepo, "tag": provTag, "pullPolicy": "Never"},
				"capacityPollInterval": "10s",
			},
			"resizer": map[string]any{
				"image": map[string]any{"repository": resRepo, "tag": resTag, "pullPolicy": "Never"},
				// One node: the standby polls do not matter, a quick
				// first election does.
				"leaderElection": map[string]any{"leaseDuration": "15s", "renewDeadline": "10s", "retryPeriod": "2s"},
			},
		},
	}
	b, err := json.Marshal(v) // JSON is YAML
	if err != nil {
		return "", err
	}
	path := filepath.Join(s.workDir, "values.yaml")
	return path, os.WriteFile(path, b, 0o600)
}

// waitDriverRegistered waits until the node's CSINode lists the driver: the
// kubelet called csi-blkio's registration socket and NodeGetInfo.
func (s *suite) waitDriverRegistered(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error // the CSINode may not exist yet: keep polling, tell it at the end
	err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		n, err := s.cs.StorageV1().CSINodes().Get(ctx, s.nodeName, metav1.GetOptions{})
		if last = err; err != nil {
			return false, nil //nolint:nilerr // not there yet: poll again; the message tells the last error
		}
		return slices.ContainsFunc(n.Spec.Drivers, func(d storagev1.CSINodeDriver) bool { return d.Name == driverName }), nil
	})
	if err != nil {
		return fmt.Errorf("the kubelet did not register %s within %s (CSINode %s; last error: %v): %w", driverName, timeout, s.nodeName, last, err)
	}
	return nil
}

// pluginPod returns the running csi-blkio pod.
func (s *suite) pluginPod(ctx context.Context) (*corev1.Pod, error) {
	pods, err := s.cs.CoreV1().Pods(pluginNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/instance=" + release + ",app.kubernetes.io/component=node",
	})
	if err != nil {
		return nil, err
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && podReady(p) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no Ready csi-blkio pod among %d", len(pods.Items))
}

// describePlugin is the plugin's state for a failure message.
func (s *suite) describePlugin() string {
	out, _ := s.kubectlCmd("get", "pods", "-n", pluginNamespace, "-o", "wide")
	logs, _ := s.kubectlCmd("logs", "-n", pluginNamespace, "-l", "app.kubernetes.io/component=node",
		"--all-containers", "--tail=40", "--prefix")
	return fmt.Sprintf("--- plugin pods:\n%s\n--- plugin logs:\n%s", out, logs)
}

func (s *suite) tearDown() {
	s.mu.Lock()
	if len(s.measurements) > 0 {
		fmt.Printf("e2e: measured in the pods:\n  %s\n", strings.Join(s.measurements, "\n  "))
	}
	s.mu.Unlock()
	if out, err := s.helmCmd("uninstall", release, "--namespace", pluginNamespace, "--wait", "--timeout", "2m"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: helm uninstall: %v\n%s\n", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = s.cs.CoreV1().Namespaces().Delete(ctx, pluginNamespace, metav1.DeleteOptions{})
	if s.workDir != "" {
		_ = os.RemoveAll(s.workDir)
	}
}

func (s *suite) helmCmd(args ...string) (string, error) {
	return run(s.helm, append([]string{"--kubeconfig", s.kubeconfig}, args...)...)
}

func (s *suite) kubectlCmd(args ...string) (string, error) {
	return run(s.kubectl, append([]string{"--kubeconfig", s.kubeconfig}, args...)...)
}

// run runs a command with a 5 minute bound and returns its combined output.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return string(out), nil
}

// chartDir is the chart in this repository (tests run in their package dir).
func chartDir() string {
	d, _ := filepath.Abs(filepath.Join("..", "..", "charts", "csi-blkio"))
	return d
}

// splitImage splits repo:tag at the last colon.
func splitImage(ref string) (string, string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "latest"
	}
	return ref[:i], ref[i+1:]
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
