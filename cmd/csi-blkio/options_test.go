package main

import (
	"bytes"
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidateNamesTheFlag: each invalid flag value is reported with the
// flag's name, and the defaults plus the two required flags are valid.
func TestValidateNamesTheFlag(t *testing.T) {
	valid := func() Options {
		o := DefaultOptions()
		o.Endpoint, o.NodeID, o.CgroupRoot = "unix:///tmp/csi.sock", "node-1", t.TempDir()
		return o
	}
	if err := func() error { o := valid(); return o.Validate() }(); err != nil {
		t.Fatalf("valid options rejected: %v", err)
	}
	cases := []struct {
		flag string
		set  func(*Options)
	}{
		{"endpoint", func(o *Options) { o.Endpoint = "tcp://127.0.0.1:1" }},
		{"endpoint", func(o *Options) { o.Endpoint = "" }},
		{"node-id", func(o *Options) { o.NodeID = "" }},
		{"state-dir", func(o *Options) { o.StateDir = "relative" }},
		{"driver-name", func(o *Options) { o.DriverName = "bad name!" }},
		{"cgroup-root", func(o *Options) { o.CgroupRoot = "/nonexistent/csiblkio-test" }},
		{"kubelet-cgroup-root", func(o *Options) { o.KubeletCgroupRoot = "../escape" }},
		{"kubeconfig", func(o *Options) { o.Kubeconfig = filepath.Join(t.TempDir(), "missing") }},
		{"metrics-address", func(o *Options) { o.MetricsAddress = "nope" }},
		{"health-address", func(o *Options) { o.HealthAddress = "nope" }},
		{"max-volumes", func(o *Options) { o.MaxVolumes = -1 }},
		{"stats-interval", func(o *Options) { o.StatsInterval = 0 }},
		{"elastic-period", func(o *Options) { o.ElasticPeriod = time.Millisecond }},
		{"elastic-period", func(o *Options) { o.ElasticPeriod = -time.Second }},
		{"kube-api-qps", func(o *Options) { o.KubeAPIQPS = 0 }},
		{"kube-api-burst", func(o *Options) { o.KubeAPIBurst = -3 }},
		{"kubelet-plugin-endpoint", func(o *Options) { o.RegistrationSocket = "/reg.sock" }},
	}
	for _, c := range cases {
		o := valid()
		c.set(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), "--"+c.flag+":") {
			t.Errorf("Validate with a bad --%s = %v; want an error naming the flag", c.flag, err)
		}
	}
}

// TestRunExitCodes runs the command line as main does: bad flags exit 2
// with the flag named on stderr; an unknown subcommand exits 2 with usage.
func TestRunExitCodes(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--endpoint", "unix:///x.sock", "--max-volumes", "-5"}, &stderr); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "--node-id: is required") || !strings.Contains(stderr.String(), "--max-volumes") {
		t.Fatalf("stderr %q does not name the bad flags", stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"serve", "--no-such-flag"}, &stderr); code != 2 {
		t.Fatalf("unknown flag: exit code %d, want 2", code)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"frobnicate"}, &stderr); code != 2 || !strings.Contains(stderr.String(), "serve") {
		t.Fatalf("unknown subcommand: exit %d, stderr %q", code, stderr.String())
	}
}

// TestAddFlagsRegistersEveryOption keeps the contract's flag list and the
// Options struct in step.
func TestAddFlagsRegistersEveryOption(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	o := DefaultOptions()
	o.AddFlags(fs)
	for _, name := range []string{"endpoint", "node-id", "state-dir", "driver-name", "cgroup-root", "kubelet-cgroup-root",
		"kubeconfig", "metrics-address", "health-address", "max-volumes", "stats-interval", "kube-api-qps",
		"kube-api-burst", "registration-socket", "kubelet-plugin-endpoint"} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag --%s is not registered", name)
		}
	}
	if got := fs.Lookup("state-dir").DefValue; got != "/var/lib/csi-blkio" {
		t.Errorf("--state-dir default %q", got)
	}
}
