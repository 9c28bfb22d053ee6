package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"k8s.io/klog/v2"
)

// runServe is the serve subcommand: flags -> Options -> wiring -> gRPC
// until SIGTERM/SIGINT.
func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	o := DefaultOptions()
	if _, help, err := parseFlags("serve", args, stderr, o.AddFlags); help || err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return usageError{err}
	}
	return serve(ctx, o)
}

func serve(ctx context.Context, o Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	klog.FromContext(ctx).V(2).Info("Starting csi-blkio", "version", version(), "driver", o.DriverName, "node", o.NodeID, "stateDir", o.StateDir)

	restoreTmp, err := useStateTmp(o.StateDir)
	if err != nil {
		return err
	}
	defer restoreTmp()
	n, err := newNode(ctx, o)
	if err != nil {
		return err
	}
	defer n.close()
	klog.FromContext(ctx).V(2).Info("Throttle core started", "backend", n.core.backend.Description())

	report, err := recoverAtStart(ctx, n, o)
	if err != nil {
		return err
	}
	// Metrics and the Kubernetes side start once the groups are restored.
	if err := n.obs.start(ctx, n.core, n.driver, report); err != nil {
		return err
	}
	if o.HealthAddress != "" {
		healthDone, err := serveHealth(ctx, o.HealthAddress, n.driver.Probe)
		if err != nil {
			return fmt.Errorf("--health-address: %w", err)
		}
		// cancel first: the server stops on ctx, and Serve may have failed
		// without ctx being done. A health server that failed is logged:
		// the kubelet's liveness probe has been failing meanwhile.
		defer func() {
			cancel()
			if err := <-healthDone; err != nil {
				klog.FromContext(ctx).Error(err, "Health endpoint stopped", "address", o.HealthAddress)
			}
		}()
	}
	var regDone <-chan error
	if o.RegistrationSocket != "" {
		if regDone, err = startRegistration(ctx, cancel, o); err != nil {
			return fmt.Errorf("--registration-socket: %w", err)
		}
	}
	err = n.driver.Serve(ctx, o.Endpoint)
	if regDone != nil {
		cancel()
		err = errors.Join(err, <-regDone)
	}
	klog.FromContext(ctx).V(2).Info("csi-blkio stopped")
	return err
}
