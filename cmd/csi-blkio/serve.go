package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"k8s.io/klog/v2"
	"k8s.io/mount-utils"
	utilexec "k8s.io/utils/exec"

	"github.com/csi-blkio/csi-blkio/pkg/driver"
	"github.com/csi-blkio/csi-blkio/pkg/loop"
	"github.com/csi-blkio/csi-blkio/pkg/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/volume"
)

// runServe is the serve subcommand: flags -> Options -> wiring -> gRPC
// until SIGTERM/SIGINT.
func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	o := DefaultOptions()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.AddFlags(fs)
	klog.InitFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if err := o.Validate(); err != nil {
		return usageError{err}
	}
	return serve(ctx, o)
}

func serve(ctx context.Context, o Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	klog.V(2).InfoS("Starting csi-blkio", "version", version(), "driver", o.DriverName, "node", o.NodeID, "stateDir", o.StateDir)

	store, err := volume.NewStore(o.StateDir)
	if err != nil {
		return err
	}
	backend, err := throttle.DetectBackend(o.CgroupRoot, nil)
	if err != nil {
		return fmt.Errorf("start throttle core: %w", err)
	}
	obs, err := newObservers(ctx, o, backend)
	if err != nil {
		return err
	}
	defer obs.stop()
	core, err := newThrottleCore(ctx, o, backend, obs.workerOptions())
	if err != nil {
		return fmt.Errorf("start throttle core: %w", err)
	}
	defer core.stop()
	klog.V(2).InfoS("Throttle core started", "backend", core.backend.Description())

	exec := utilexec.New()
	deps := driver.Deps{
		Store:     store,
		Loop:      loop.NewKernel(),
		Mounter:   mount.NewSafeFormatAndMount(mount.New(""), exec),
		Resizer:   mount.NewResizeFs(exec),
		Throttler: core.table,
		Kernel:    core.backend,
		Ready:     readiness(o),
		Observer:  obs.rpcObserver(),
	}
	faults, err := armFault(&deps)
	if err != nil {
		return err
	}
	d, err := driver.New(driver.Config{
		Name: o.DriverName, Version: version(), NodeID: o.NodeID, StateDir: o.StateDir, MaxVolumes: o.MaxVolumes,
	}, deps)
	if err != nil {
		return err
	}
	// Groups are rebuilt before the live-limits controller and the metrics
	// start, so that both see the node as it was before the restart.
	if err := recoverAtStart(ctx, d, o, core, faults); err != nil {
		return err
	}
	if err := obs.start(ctx, core, d); err != nil {
		return err
	}
	if o.HealthAddress != "" {
		healthDone, err := serveHealth(ctx, o.HealthAddress, d.Probe)
		if err != nil {
			return fmt.Errorf("--health-address: %w", err)
		}
		// cancel first: the server stops on ctx, and d.Serve may have
		// failed without ctx being done.
		defer func() { cancel(); <-healthDone }()
	}
	var regDone <-chan error
	if o.RegistrationSocket != "" {
		if regDone, err = startRegistration(ctx, cancel, o); err != nil {
			return fmt.Errorf("--registration-socket: %w", err)
		}
	}
	err = d.Serve(ctx, o.Endpoint)
	if regDone != nil {
		cancel()
		err = errors.Join(err, <-regDone)
	}
	klog.V(2).InfoS("csi-blkio stopped")
	return err
}
