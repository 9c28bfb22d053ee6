// Package storagesuite is a slim Kubernetes e2e binary: the e2e framework and
// the storage SIG's external-driver suites (k8s.io/kubernetes
// test/e2e/storage/external, which pulls in the storage test suites it
// instantiates), and nothing else of test/e2e. hack/conformance.sh runs only
// "External Storage" specs; compiling all of test/e2e (apps, network, node,
// kubectl, DRA, cloud providers, ...) for them cost most of a cold build.
//
// This file does for that subset what k8s.io/kubernetes test/e2e/e2e_test.go
// and e2e.go do for the whole tree: register and parse the framework's flags,
// add the embedded manifests and fixtures as file sources (and --repo-root, so
// the driver definition's StorageClass.FromFile resolves), run the suite
// through ginkgo with the framework's configuration, and wait for a usable
// cluster once before the specs. Cloud providers, image pre-pulling and the
// metrics gathering after the suite are left out: the tier runs on a single
// bare node with --provider=skeleton and nothing to pull.
//
// Build: go test -c -o e2e.test ./storagesuite (hack/tools/e2e-test.sh).
package storagesuite

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/utils/net"

	"k8s.io/component-base/logs"
	"k8s.io/component-base/version"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/test/e2e/framework"
	"k8s.io/kubernetes/test/e2e/framework/config"
	e2enode "k8s.io/kubernetes/test/e2e/framework/node"
	e2epod "k8s.io/kubernetes/test/e2e/framework/pod"
	"k8s.io/kubernetes/test/e2e/framework/testfiles"
	e2etestingmanifests "k8s.io/kubernetes/test/e2e/testing-manifests"
	testfixtures "k8s.io/kubernetes/test/fixtures"

	// Feature and label constants are defined and frozen here; the suites
	// refer to them.
	_ "k8s.io/kubernetes/test/e2e/feature"

	// The specs: one External Storage suite per -storage.testdriver file.
	_ "k8s.io/kubernetes/test/e2e/storage/external"

	// Framework extensions e2e.test links in: failure dumps, metrics flags,
	// node helpers, and the ktesting value formatter.
	_ "k8s.io/kubernetes/test/e2e/framework/debug/init"
	_ "k8s.io/kubernetes/test/e2e/framework/metrics/init"
	_ "k8s.io/kubernetes/test/e2e/framework/node/init"
	_ "k8s.io/kubernetes/test/utils/ktesting/format"

	// Client auth plugins, and the logging flags (-v, ...) on the command line.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	_ "k8s.io/component-base/logs/testinit"
)

func TestMain(m *testing.M) {
	versionFlag := flag.Bool("version", false, "Displays version information.")
	config.CopyFlags(config.Flags, flag.CommandLine)
	framework.RegisterCommonFlags(flag.CommandLine)
	framework.RegisterClusterFlags(flag.CommandLine)
	flag.Parse()

	if *versionFlag {
		fmt.Printf("%s\n", version.Get())
		os.Exit(0)
	}
	if flag.CommandLine.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unknown additional command line arguments: %s\n", flag.CommandLine.Args())
		os.Exit(1)
	}

	// The suites read pod and StorageClass manifests through testfiles: the
	// embedded copies first, then the files under --repo-root (our driver
	// definition names its StorageClass file relative to it).
	testfiles.AddFileSource(e2etestingmanifests.GetE2ETestingManifestsFS())
	testfiles.AddFileSource(testfixtures.GetTestFixturesFS())
	framework.AfterReadingAllFlags(&framework.TestContext)
	if framework.TestContext.RepoRoot != "" {
		testfiles.AddFileSource(testfiles.RootFileSource{Root: framework.TestContext.RepoRoot})
	}
	os.Exit(m.Run())
}

func TestStorageSuites(t *testing.T) {
	// As upstream: InitLogs turns contextual logging off, the suites log
	// through contexts, so it is turned back on.
	logs.InitLogs()
	defer logs.FlushLogs()
	klog.EnableContextualLogging(true)

	gomega.RegisterFailHandler(framework.Fail)
	suiteConfig, reporterConfig := framework.CreateGinkgoConfig()
	klog.Infof("Starting storage e2e run %q on Ginkgo node %d", framework.RunID, suiteConfig.ParallelProcess)
	ginkgo.RunSpecs(t, "Kubernetes storage e2e suite", suiteConfig, reporterConfig)
}

// Once, on the first ginkgo process: the cluster is usable (nodes
// schedulable, the node count known, kube-system's pods ready). Then, on every
// process: the IP family some helpers adapt to.
var _ = ginkgo.SynchronizedBeforeSuite(func(ctx context.Context) []byte {
	c, err := framework.LoadClientset()
	framework.ExpectNoError(err, "loading the client")
	timeouts := framework.NewTimeoutContext()
	framework.ExpectNoError(e2enode.WaitForAllNodesSchedulable(ctx, c, timeouts.NodeSchedulable))
	if framework.TestContext.CloudConfig.NumNodes == framework.DefaultNumNodes {
		nodes, err := e2enode.GetReadySchedulableNodes(ctx, c)
		framework.ExpectNoError(err)
		framework.TestContext.CloudConfig.NumNodes = len(nodes.Items)
	}
	framework.ExpectNoError(e2epod.WaitForAlmostAllPodsReady(ctx, c, metav1.NamespaceSystem,
		framework.TestContext.MinStartupPods, framework.TestContext.AllowedNotReadyNodes, timeouts.SystemPodsStartup),
		"waiting for kube-system's pods")
	framework.Logf("e2e test version: %s", version.Get().GitVersion)
	return nil
}, func(ctx context.Context, _ []byte) {
	c, err := framework.LoadClientset()
	framework.ExpectNoError(err, "loading the client")
	svc, err := c.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	framework.ExpectNoError(err, "reading the kubernetes service's cluster IP")
	framework.TestContext.IPFamily = "ipv4"
	if utilnet.IsIPv6String(svc.Spec.ClusterIP) {
		framework.TestContext.IPFamily = "ipv6"
	}
	framework.Logf("Cluster IP family: %s", framework.TestContext.IPFamily)
})
