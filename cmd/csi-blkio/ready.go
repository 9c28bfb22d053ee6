package main

import (
	"context"
	"fmt"
	"os"

	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// readiness is the Probe check: the node can serve volumes only with loop
// support and a cgroup hierarchy that throttles IO. It looks again on every
// Probe, so a node that loses either turns not ready.
func readiness(o Options) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := os.Stat("/dev/loop-control"); err != nil {
			return fmt.Errorf("no loop support: %w (load the loop module)", err)
		}
		b, err := throttle.DetectBackend(o.CgroupRoot, nil)
		if err != nil {
			return err
		}
		// ProbeResponse has no field for it, so the log says which
		// hierarchy (v1 blkio or v2 io.max) the node is ready with.
		klog.FromContext(ctx).V(4).Info("Probe: ready", "backend", b.Description())
		return nil
	}
}
