package main

import (
	"context"
	"fmt"
	"os"

	"k8s.io/mount-utils"

	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/fault"
	"github.com/csi-blkio/csi-blkio/internal/loop"
)

// armFault wraps deps with the fault CSI_BLKIO_FAULT names (tests only;
// see docs/reliability.md). Unset, deps stay as they are and it returns nil.
func armFault(deps *driver.Deps) (*fault.Injector, error) {
	spec := os.Getenv(fault.EnvVar)
	if spec == "" {
		return nil, nil
	}
	in, err := fault.Parse(spec)
	if err != nil {
		return nil, err
	}
	in.Arm(deps)
	return in, nil
}

// recoverAtStart runs start-up recovery before the driver serves: groups
// from the records, orphaned loop devices and mounts, stale limits. Then an
// armed fault goes live, so that it fires inside an RPC. The report counts
// what recovery did (a metric adds it once per start).
func recoverAtStart(ctx context.Context, n *node, o Options) (driver.RecoveryReport, error) {
	report, err := n.driver.Recover(ctx, driver.RecoverOptions{
		Loops:             loop.NewKernel(),
		Mounts:            func() ([]mount.MountInfo, error) { return mount.ParseMountInfo("/proc/self/mountinfo") },
		Cgroups:           n.core.backend,
		KubeletCgroupRoot: o.KubeletCgroupRoot,
	})
	if err != nil {
		return nil, fmt.Errorf("start-up recovery: %w", err)
	}
	if n.faults != nil {
		n.faults.Activate()
	}
	return report, nil
}
