//go:build chart

package helm

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// cluster is a real kube-apiserver started by hack/cluster (apiserver.sh,
// run around the tests by hack/test-chart.sh through with.sh), reached with
// the project's own kubectl and helm builds.
type cluster struct {
	kubeconfig string
	kubectlBin string
	helm       *helmRunner
}

// newCluster returns the apiserver hack/cluster exported, or skips: the
// template tests run without one, `make test` always provides one.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	kubeconfig := os.Getenv("CSI_BLKIO_TEST_KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("no test apiserver: run through hack/test-chart.sh (hack/cluster/with.sh apiserver)")
	}
	kubectl := os.Getenv("CSI_BLKIO_TEST_KUBECTL")
	if kubectl == "" {
		t.Fatal("CSI_BLKIO_TEST_KUBECONFIG is set but CSI_BLKIO_TEST_KUBECTL is not")
	}
	h := newHelm(t)
	// Only the test apiserver, never a KUBECONFIG found in the environment.
	h.env = append(h.env, "KUBECONFIG="+kubeconfig)
	return &cluster{kubeconfig: kubeconfig, kubectlBin: kubectl, helm: h}
}

func (c *cluster) kubectl(stdin string, args ...string) (string, string, error) {
	cmd := exec.Command(c.kubectlBin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// mustKubectl runs kubectl and fails the test when it fails.
func (c *cluster) mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, stderr, err := c.kubectl(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// refused runs kubectl expecting the apiserver to refuse, with want in the
// message.
func (c *cluster) refused(t *testing.T, want, stdin string, args ...string) {
	t.Helper()
	out, stderr, err := c.kubectl(stdin, args...)
	if err == nil {
		t.Errorf("kubectl %s was accepted, want refused with %q:\n%s", strings.Join(args, " "), want, out)
		return
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("kubectl %s refused without %q:\n%s", strings.Join(args, " "), want, stderr)
	}
}

func (c *cluster) mustHelm(t *testing.T, values string, args ...string) string {
	t.Helper()
	out, stderr, err := c.helm.run(append(args, valuesFile(t, values)...)...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

// manifestObjects lists a release's objects as kubectl names them
// (kind.group/name), read back from the apiserver through the manifest helm
// stored, so that each one is shown to exist server-side.
func (c *cluster) manifestObjects(t *testing.T, release, ns string) []string {
	t.Helper()
	manifest := c.mustHelm(t, "", "get", "manifest", release, "--namespace", ns)
	out := c.mustKubectl(t, manifest, "get", "-f", "-", "-o", "name")
	return strings.Fields(out)
}

// gone asserts that none of the named objects exists any more.
func (c *cluster) gone(t *testing.T, ns string, names []string) {
	t.Helper()
	for _, name := range names {
		out, stderr, err := c.kubectl("", "get", name, "--namespace", ns, "-o", "name", "--ignore-not-found")
		if err != nil {
			t.Errorf("kubectl get %s: %v\n%s", name, err, stderr)
		} else if strings.TrimSpace(out) != "" {
			t.Errorf("%s is still there after helm uninstall", name)
		}
	}
}
