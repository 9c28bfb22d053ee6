package main

import (
	"context"
	"time"

	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/registration"
)

// startRegistration serves the kubelet's plugin-registration socket
// (--registration-socket) in place of node-driver-registrar, announcing
// --kubelet-plugin-endpoint once the CSI socket accepts connections. The
// returned channel yields Serve's result after ctx is done. A failure
// cancels serve: a plugin the kubelet cannot register is never called, and
// a failing container makes that visible.
func startRegistration(ctx context.Context, cancel context.CancelFunc, o Options) (<-chan error, error) {
	srv, err := registration.New(registration.Config{DriverName: o.DriverName, Endpoint: o.KubeletPluginEndpoint})
	if err != nil {
		return nil, err
	}
	sock, err := driver.ParseEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ctx, o.RegistrationSocket, registration.SocketAccepts(sock, 100*time.Millisecond))
		if err != nil && ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "Kubelet plugin registration failed; stopping", "socket", o.RegistrationSocket)
			cancel()
		}
		done <- err
	}()
	return done, nil
}
