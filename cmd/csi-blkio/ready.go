package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// readiness is the Probe check: the node can serve volumes only with loop
// support and a cgroup IO controller to throttle with.
func readiness(o Options) func(context.Context) error {
	return func(context.Context) error {
		if _, err := os.Stat("/dev/loop-control"); err != nil {
			return fmt.Errorf("no loop support: %w (load the loop module)", err)
		}
		return cgroupBackendPresent(o.CgroupRoot)
	}
}

// cgroupBackendPresent checks for blk-throttle: v1 blkio, or v2 with the io
// controller.
func cgroupBackendPresent(root string) error {
	if _, err := os.Stat(filepath.Join(root, "blkio", "blkio.throttle.read_bps_device")); err == nil {
		return nil
	}
	if b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers")); err == nil {
		for _, c := range strings.Fields(string(b)) {
			if c == "io" {
				return nil
			}
		}
	}
	return fmt.Errorf("no cgroup IO controller under %s: neither v1 blkio nor v2 io is available", root)
}
