package main

import (
	"context"
	"fmt"
	"os"

	"github.com/csi-blkio/csi-blkio/pkg/throttle"
)

// readiness is the Probe check: the node can serve volumes only with loop
// support and a cgroup hierarchy that throttles IO. It looks again on every
// Probe, so a node that loses either turns not ready.
func readiness(o Options) func(context.Context) error {
	return func(context.Context) error {
		if _, err := os.Stat("/dev/loop-control"); err != nil {
			return fmt.Errorf("no loop support: %w (load the loop module)", err)
		}
		if _, err := throttle.DetectBackend(o.CgroupRoot, nil); err != nil {
			return err
		}
		return nil
	}
}
