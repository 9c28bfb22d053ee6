package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/burst"
	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/elastic"
)

// Options are the serve subcommand's flags. Every field is one flag; the
// defaults are what the Helm chart expects on a node.
type Options struct {
	// Endpoint is the CSI socket, unix:///path/csi.sock.
	Endpoint string
	// NodeID is this node's name in CSI (normally spec.nodeName).
	NodeID string
	// StateDir holds volume records, backing files and inline staging mounts.
	StateDir string
	// DriverName is the CSI driver name the kubelet and CSIDriver object use.
	DriverName string
	// CgroupRoot is where the cgroup hierarchies are mounted.
	CgroupRoot string
	// KubeletCgroupRoot is the kubelet's --cgroup-root: the parent of
	// kubepods inside each hierarchy ("" = directly under CgroupRoot).
	KubeletCgroupRoot string
	// AcceptDegradedV1Publish lets a publish on cgroup v1 whose pod cgroup
	// is not found succeed Degraded, with only the root-level entry (which
	// does not hold the pod's direct IO). Off, such a publish fails with
	// FailedPrecondition and the kubelet retries.
	AcceptDegradedV1Publish bool
	// WriteBudget bounds this node's apiserver writes (ThrottleGroup
	// creates, status patches, Events) per second, burst included.
	WriteBudget WriteBudget
	// Kubeconfig enables the Kubernetes sinks. Empty and not in a pod means
	// standalone; in a pod the in-cluster config is used.
	Kubeconfig string
	// MetricsAddress serves Prometheus metrics (host:port); "" is off.
	MetricsAddress string
	// HealthAddress serves /healthz from Probe (host:port); "" is off.
	HealthAddress string
	// MaxVolumes is the node's volume cap reported to the kubelet; 0 is none.
	MaxVolumes int64
	// StatsInterval is the stats worker's resync period.
	StatsInterval time.Duration
	// BurstInterval is how often the burst controller samples the groups
	// that have a burst (<L>Burst); it bounds how late the switch to the
	// baseline comes after a bucket runs dry.
	BurstInterval time.Duration
	// ElasticPeriod is the control period of the elastic controller,
	// which holds elastic volumes while a latency-protected volume on the
	// same disk misses its target (docs/elastic.md); 0 turns it off, and
	// elastic volumes then keep their limits.
	ElasticPeriod time.Duration
	// KubeAPIQPS and KubeAPIBurst bound this node's apiserver client.
	KubeAPIQPS   float64
	KubeAPIBurst int
	// RegistrationSocket is a kubelet plugin-registration socket served by
	// csi-blkio itself instead of node-driver-registrar; "" is off.
	RegistrationSocket string
	// KubeletPluginEndpoint is the CSI socket path as the kubelet sees it,
	// announced on RegistrationSocket.
	KubeletPluginEndpoint string
}

// DefaultOptions are the flag defaults.
func DefaultOptions() Options {
	return Options{
		StateDir:      "/var/lib/csi-blkio",
		DriverName:    "blkio.csi.dev",
		CgroupRoot:    "/sys/fs/cgroup",
		StatsInterval: 10 * time.Second,
		BurstInterval: burst.DefaultInterval,
		ElasticPeriod: elastic.DefaultPeriod,
		KubeAPIQPS:    5,
		KubeAPIBurst:  10,
		WriteBudget:   DefaultWriteBudget(),
	}
}

// AddFlags registers the options on fs with o's current values as defaults.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Endpoint, "endpoint", o.Endpoint, "CSI endpoint, unix:///path/to/csi.sock (required)")
	fs.StringVar(&o.NodeID, "node-id", o.NodeID, "this node's name in CSI, normally the Kubernetes node name (required)")
	fs.StringVar(&o.StateDir, "state-dir", o.StateDir, "directory for volume records, backing files and inline staging mounts")
	fs.StringVar(&o.DriverName, "driver-name", o.DriverName, "CSI driver name")
	fs.StringVar(&o.CgroupRoot, "cgroup-root", o.CgroupRoot, "where the cgroup hierarchies are mounted")
	fs.StringVar(&o.KubeletCgroupRoot, "kubelet-cgroup-root", o.KubeletCgroupRoot, "the kubelet's --cgroup-root (parent of kubepods); empty for the default")
	fs.BoolVar(&o.AcceptDegradedV1Publish, "accept-degraded-v1-publish", o.AcceptDegradedV1Publish,
		"on cgroup v1, publish a volume whose pod cgroup is not found with only the root-level entry, which does not hold the pod's direct IO (default: refuse)")
	o.WriteBudget.addFlags(fs)
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig for the Kubernetes sinks; empty outside a pod means standalone")
	fs.StringVar(&o.MetricsAddress, "metrics-address", o.MetricsAddress, "host:port for Prometheus metrics; empty is off")
	fs.StringVar(&o.HealthAddress, "health-address", o.HealthAddress, "host:port serving /healthz from Probe; empty is off")
	fs.Int64Var(&o.MaxVolumes, "max-volumes", o.MaxVolumes, "most volumes on this node, reported to the kubelet; 0 is no cap")
	fs.DurationVar(&o.StatsInterval, "stats-interval", o.StatsInterval, "how often the stats worker samples every throttle group")
	fs.DurationVar(&o.BurstInterval, "burst-interval", o.BurstInterval, "how often the burst controller samples the throttle groups that have a burst (50ms to 1s)")
	fs.DurationVar(&o.ElasticPeriod, "elastic-period", o.ElasticPeriod, "control period of the elastic controller (latencyTarget, elastic parameters); 0 turns it off and elastic volumes keep their limits")
	fs.Float64Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "apiserver requests per second from this node")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "apiserver request burst from this node")
	fs.StringVar(&o.RegistrationSocket, "registration-socket", o.RegistrationSocket, "kubelet plugin-registration socket to serve instead of node-driver-registrar; empty is off")
	fs.StringVar(&o.KubeletPluginEndpoint, "kubelet-plugin-endpoint", o.KubeletPluginEndpoint, "CSI socket path as the kubelet sees it, announced on --registration-socket")
}

// driverNamePattern: the CSI spec's plugin name rules (DNS-like, <= 63).
var driverNamePattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$`)

// Validate reports every invalid flag, each message naming its flag.
func (o *Options) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	if o.Endpoint == "" {
		bad("endpoint", "is required, e.g. unix:///csi/csi.sock")
	} else if _, err := driver.ParseEndpoint(o.Endpoint); err != nil {
		bad("endpoint", "%v", err)
	}
	if o.NodeID == "" {
		bad("node-id", "is required (the chart passes the node name)")
	}
	if !filepath.IsAbs(o.StateDir) {
		bad("state-dir", "%q must be an absolute path", o.StateDir)
	}
	if !driverNamePattern.MatchString(o.DriverName) {
		bad("driver-name", "%q is not a CSI driver name (letters, digits, '.', '-', at most 63)", o.DriverName)
	}
	if st, err := os.Stat(o.CgroupRoot); err != nil || !st.IsDir() || !filepath.IsAbs(o.CgroupRoot) {
		bad("cgroup-root", "%q must be an existing absolute directory", o.CgroupRoot)
	}
	if r := o.KubeletCgroupRoot; r != "" && (!strings.HasPrefix(r, "/") || strings.Contains(r, "..")) {
		bad("kubelet-cgroup-root", "%q must be a cgroup path such as /kubelet (absolute, no \"..\")", r)
	}
	if o.Kubeconfig != "" {
		if st, err := os.Stat(o.Kubeconfig); err != nil || st.IsDir() {
			bad("kubeconfig", "%q is not a readable file", o.Kubeconfig)
		}
	}
	for _, a := range [][2]string{{"metrics-address", o.MetricsAddress}, {"health-address", o.HealthAddress}} {
		if name, addr := a[0], a[1]; addr != "" {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				bad(name, "%q is not host:port (%v)", addr, err)
			}
		}
	}
	if o.MaxVolumes < 0 {
		bad("max-volumes", "%d must not be negative", o.MaxVolumes)
	}
	if o.StatsInterval < 100*time.Millisecond {
		bad("stats-interval", "%s is too short; use at least 100ms", o.StatsInterval)
	}
	if o.BurstInterval < 50*time.Millisecond || o.BurstInterval > time.Second {
		bad("burst-interval", "%s is outside 50ms..1s: a bucket must switch to its baseline within a second of running dry", o.BurstInterval)
	}
	if o.ElasticPeriod != 0 && (o.ElasticPeriod < 10*time.Millisecond || o.ElasticPeriod > 10*time.Second) {
		bad("elastic-period", "%s must be 0 (off) or between 10ms and 10s", o.ElasticPeriod)
	}
	if o.KubeAPIQPS <= 0 {
		bad("kube-api-qps", "%g must be positive", o.KubeAPIQPS)
	}
	if o.KubeAPIBurst <= 0 {
		bad("kube-api-burst", "%d must be positive", o.KubeAPIBurst)
	}
	o.WriteBudget.validate(bad)
	if o.RegistrationSocket != "" {
		if !filepath.IsAbs(o.RegistrationSocket) {
			bad("registration-socket", "%q must be an absolute path", o.RegistrationSocket)
		}
		if !filepath.IsAbs(o.KubeletPluginEndpoint) {
			bad("kubelet-plugin-endpoint", "%q must be the absolute CSI socket path the kubelet sees when --registration-socket is set", o.KubeletPluginEndpoint)
		}
	}
	return errors.Join(errs...)
}
