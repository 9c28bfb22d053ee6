package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/csi-blkio/csi-blkio/internal/kube"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

const (
	// systemNS holds the chart's ServiceAccount, as a release namespace.
	systemNS = testutil.Prefix + "-system"
	// teamNS holds the test pods and so their ThrottleGroups.
	teamNS = testutil.Prefix + "-team"
	// release is the Helm release name the chart's RBAC is rendered with.
	release = "csi-blkio"
)

// cluster is the shared test apiserver with the chart's CRD and RBAC
// installed, and the csi-blkio binary built once for all tests.
type cluster struct {
	repo       string
	kubeconfig string
	kubectlBin string
	apiserver  string // https://127.0.0.1:port
	ca         string
	admin      *rest.Config
	kc         kubernetes.Interface
	tgs        *kube.ThrottleGroups
	bin        string // csi-blkio, built with -race
	tmp        string
}

// sharedCluster sets the cluster up once, on first use; TestMain removes
// what it built. (A function value: nothing mutable at package level.)
var sharedCluster = sync.OnceValues(setupCluster)

func TestMain(m *testing.M) {
	code := m.Run()
	if c, err := sharedCluster(); err == nil && c != nil {
		os.RemoveAll(c.tmp)
	}
	os.Exit(code)
}

// needCluster returns the cluster or skips: without the variables of
// hack/cluster (plain `go test ./...`) there is no apiserver to test with.
func needCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Getenv("CSI_BLKIO_TEST_KUBECONFIG") == "" {
		t.Skip("no test apiserver: the Kubernetes integration tier runs in `make test` (hack/test-kube.sh starts one with hack/cluster/with.sh apiserver)")
	}
	testutil.RequireBlkioV1(t)
	c, err := sharedCluster()
	if err != nil {
		t.Fatalf("setting up the test cluster: %v", err)
	}
	return c
}

func setupCluster() (*cluster, error) {
	if os.Getenv("CSI_BLKIO_TEST_KUBECONFIG") == "" {
		return nil, nil
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	c := &cluster{
		repo:       repo,
		kubeconfig: os.Getenv("CSI_BLKIO_TEST_KUBECONFIG"),
		kubectlBin: os.Getenv("CSI_BLKIO_TEST_KUBECTL"),
		apiserver:  os.Getenv("CSI_BLKIO_TEST_APISERVER"),
		ca:         os.Getenv("CSI_BLKIO_TEST_CA"),
	}
	helm := os.Getenv("CSI_BLKIO_HELM")
	if c.kubectlBin == "" || c.apiserver == "" || c.ca == "" || helm == "" {
		return nil, fmt.Errorf("CSI_BLKIO_TEST_KUBECTL, _APISERVER, _CA and CSI_BLKIO_HELM must be set with CSI_BLKIO_TEST_KUBECONFIG: run hack/test-kube.sh")
	}
	if c.admin, err = clientcmd.BuildConfigFromFlags("", c.kubeconfig); err != nil {
		return nil, err
	}
	if c.kc, err = kubernetes.NewForConfig(c.admin); err != nil {
		return nil, err
	}
	if c.tgs, err = kube.NewThrottleGroups(c.admin); err != nil {
		return nil, err
	}
	if c.tmp, err = os.MkdirTemp("", testutil.Prefix+"-kube-"); err != nil {
		return nil, err
	}
	// The real binary, with the race detector: the plugin runs as its own
	// process, as in a pod, and a race in it fails the test (see plugin).
	c.bin = filepath.Join(c.tmp, "csi-blkio")
	build := exec.Command("go", "build", "-race", "-o", c.bin, "./cmd/csi-blkio")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	if err := c.installChart(helm); err != nil {
		return nil, err
	}
	return c, nil
}

// installChart renders the chart's CRD, ServiceAccount and RBAC with helm
// template and applies them: the plugin runs under exactly what the chart
// grants.
func (c *cluster) installChart(helm string) error {
	args := []string{"template", release, filepath.Join(c.repo, "charts", "csi-blkio"), "--namespace", systemNS}
	for _, f := range []string{"crd-throttlegroups", "serviceaccount", "clusterrole", "clusterrolebinding", "role", "rolebinding"} {
		args = append(args, "--show-only", "templates/"+f+".yaml")
	}
	manifest, err := exec.Command(helm, args...).Output()
	if err != nil {
		return fmt.Errorf("helm template: %v", stderrOf(err))
	}
	ctx := context.Background()
	for _, ns := range []string{systemNS, teamNS} {
		if _, err := c.kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	// No controller-manager runs: create the pods' ServiceAccount by hand.
	if _, err := c.kc.CoreV1().ServiceAccounts(teamNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if out, err := c.kubectl(string(manifest), "apply", "-f", "-"); err != nil {
		return fmt.Errorf("kubectl apply of the chart's RBAC and CRD: %v\n%s", err, out)
	}
	if out, err := c.kubectl("", "wait", "--for=condition=Established", "crd/throttlegroups.blkio.csi.dev", "--timeout=60s"); err != nil {
		return fmt.Errorf("CRD not established: %v\n%s", err, out)
	}
	return nil
}

// kubectl runs the project's kubectl on the test apiserver (admin).
func (c *cluster) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(c.kubectlBin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// saToken asks the TokenRequest API for a token of the chart's
// ServiceAccount, as the kubelet does for the plugin's pod.
func (c *cluster) saToken(t *testing.T) string {
	t.Helper()
	tr, err := c.kc.CoreV1().ServiceAccounts(systemNS).CreateToken(context.Background(), release,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", systemNS, release, err)
	}
	return tr.Status.Token
}

// saConfig is a client config acting as the chart's ServiceAccount.
func (c *cluster) saConfig(t *testing.T, host string) *rest.Config {
	return &rest.Config{Host: host, BearerToken: c.saToken(t), TLSClientConfig: rest.TLSClientConfig{CAFile: c.ca}}
}

// writeKubeconfig writes a kubeconfig for the plugin: the ServiceAccount's
// token, the apiserver's CA, and server (the test's proxy).
func (c *cluster) writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plugin.kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, certificate-authority: %q}
users:
- name: csi-blkio
  user: {token: %q}
contexts:
- name: test
  context: {cluster: test, user: csi-blkio}
current-context: test
`, server, c.ca, c.saToken(t))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// createPod creates a pod object bound to node (nothing runs it: no
// kubelet in this tier); its UID names its cgroup.
func (c *cluster) createPod(t *testing.T, name, node string) *corev1.Pod {
	t.Helper()
	pod, err := c.kc.CoreV1().Pods(teamNS).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "writer", Image: "busybox"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.kc.CoreV1().Pods(teamNS).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))})
	})
	return pod
}

func stderrOf(err error) string {
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return fmt.Sprintf("%v: %s", err, ee.Stderr)
	}
	return err.Error()
}
