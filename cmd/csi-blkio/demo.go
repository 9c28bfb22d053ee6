package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"

	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/demo"
	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

// runDemo is the demo subcommand: the real node plugin in-process, driven
// through CSI on a temporary socket, with IO from a container cgroup (see
// internal/demo). The plugin is built by newNode, the same wiring serve uses.
func runDemo(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := demo.DefaultConfig()
	fs, help, err := parseFlags("demo", args, stderr, cfg.AddFlags)
	if help || err != nil {
		return err
	}
	quietLogs(fs)
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary to run the IO processes: %w", err)
	}
	return demo.Run(ctx, cfg, demo.Deps{
		StartNode: startDemoNode,
		IOCommand: func(args []string) *exec.Cmd {
			return exec.Command(self, append([]string{ioCommandName}, args...)...)
		},
		Out:        os.Stdout,
		Terminal:   demo.IsTerminal(os.Stdout),
		CgroupRoot: DefaultOptions().CgroupRoot,
	})
}

// quietLogs keeps the plugin's informational log lines (mkfs, mounts) out
// of the demo's story unless a klog flag was given: errors still reach
// stderr, and nothing goes to log files.
func quietLogs(fs *flag.FlagSet) {
	set := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "v", "logtostderr", "alsologtostderr", "stderrthreshold", "log_file", "log_dir", "vmodule":
			set = true
		}
	})
	if set {
		return
	}
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("stderrthreshold", "ERROR")
	klog.SetOutput(io.Discard)
}

// ioCommandName is the hidden subcommand the demo re-executes this binary
// with for its IO processes, each in a container cgroup of its own.
const ioCommandName = "demo-io"

func runDemoIO(ctx context.Context, args []string, stderr io.Writer) error {
	return iobench.RunIO(ctx, args, os.Stdin, os.Stdout, stderr)
}

// startDemoNode builds the plugin as serve does and serves until ctx is done.
func startDemoNode(ctx context.Context, no demo.NodeOptions) (*demo.Node, error) {
	o := DefaultOptions()
	o.Endpoint, o.NodeID, o.StateDir = no.Endpoint, no.NodeID, no.StateDir
	o.KubeletCgroupRoot, o.StatsInterval = no.KubeletCgroupRoot, no.StatsInterval
	if err := o.Validate(); err != nil {
		return nil, err
	}
	n, err := newNode(ctx, o)
	if err != nil {
		return nil, err
	}
	stopped := make(chan error, 1)
	go func() {
		err := n.driver.Serve(ctx, o.Endpoint)
		n.close()
		stopped <- err
		close(stopped)
	}()
	return &demo.Node{Groups: n.core.table, Backend: n.core.backend, Stopped: stopped}, nil
}
