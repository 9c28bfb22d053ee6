package main

import (
	"context"
	"fmt"

	"k8s.io/mount-utils"
	utilexec "k8s.io/utils/exec"

	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/fault"
	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/mounter"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// node is one csi-blkio node plugin built from Options: the volume store,
// the throttle core with its stats worker, and the CSI driver over them.
// serve and demo both build it here, so the demo runs exactly the wiring a
// cluster node runs.
type node struct {
	driver *driver.Driver
	core   *throttleCore
	// obs are metrics and the Kubernetes sinks (observe.go), started by
	// serve after recovery; off when their flags are.
	obs *observers
	// faults is the fault CSI_BLKIO_FAULT armed (tests only), nil if none;
	// it goes live only after start-up recovery (recoverAtStart).
	faults *fault.Injector
}

// newNode wires the plugin; the stats worker runs until close (or ctx).
func newNode(ctx context.Context, o Options) (*node, error) {
	store, err := volume.NewStore(o.StateDir)
	if err != nil {
		return nil, err
	}
	backend, err := throttle.DetectBackend(o.CgroupRoot, nil)
	if err != nil {
		return nil, fmt.Errorf("start throttle core: %w", err)
	}
	obs, err := newObservers(ctx, o, backend)
	if err != nil {
		return nil, err
	}
	core, err := newThrottleCore(ctx, o, backend, obs.workerOptions(), obs.elasticObserver())
	if err != nil {
		obs.stop()
		return nil, fmt.Errorf("start throttle core: %w", err)
	}
	exec := utilexec.New()
	deps := driver.Deps{
		Store:     store,
		Loop:      loop.NewKernel(),
		Mounter:   mount.NewSafeFormatAndMount(mounter.New(), exec),
		Resizer:   mount.NewResizeFs(exec),
		Throttler: core.table,
		Kernel:    core.backend,
		Ready:     readiness(o),
		Observer:  obs.rpcObserver(),
		Burst:     core.burst,
	}
	n := &node{core: core, obs: obs}
	if deps.Carrier, err = obs.modifyCarrier(); err != nil {
		n.close()
		return nil, err
	}
	faults, err := armFault(&deps)
	if err != nil {
		n.close()
		return nil, err
	}
	d, err := driver.New(driver.Config{
		Name: o.DriverName, Version: version(), NodeID: o.NodeID, StateDir: o.StateDir, MaxVolumes: o.MaxVolumes,
	}, deps)
	if err != nil {
		n.close()
		return nil, err
	}
	n.driver, n.faults = d, faults
	obs.driver.Store(d)
	return n, nil
}

// close stops the stats worker and the table's watcher (kernel limits
// stay), then the observers (the worker's sink records Events through them).
func (n *node) close() {
	n.core.stop()
	n.obs.stop()
}
