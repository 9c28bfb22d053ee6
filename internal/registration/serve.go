package registration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"k8s.io/klog/v2"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// Serve listens on the unix socket at path and answers the kubelet until ctx
// is done; then it stops and removes the socket, which deregisters the
// plugin (a restarted plugin registers again when its new socket appears).
//
// ready, when not nil, is called first and must return nil before the
// socket appears: the kubelet dials the CSI endpoint as soon as it sees the
// registration socket, so announcing before the CSI service listens would
// only earn a refused registration.
func (s *Server) Serve(ctx context.Context, path string, ready func(context.Context) error) error {
	if ready != nil {
		if err := ready(ctx); err != nil {
			return fmt.Errorf("registration: CSI endpoint not ready: %w", err)
		}
	}
	if err := removeStaleSocket(path); err != nil {
		return err
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("registration: listen on %s: %w (is the kubelet's plugins_registry directory mounted?)", path, err)
	}
	srv := grpc.NewServer()
	registerapi.RegisterRegistrationServer(srv, s)

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		srv.GracefulStop()
	}()
	klog.FromContext(ctx).V(2).Info("Serving kubelet plugin registration", "socket", path, "driver", s.cfg.DriverName, "endpoint", s.cfg.Endpoint)
	err = srv.Serve(lis)
	if ctx.Err() != nil {
		<-stopped
	}
	// net.UnixListener.Close unlinks the socket it created; remove it anyway
	// in case Serve failed before, and ignore "already gone".
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		klog.FromContext(ctx).Error(rerr, "Could not remove the registration socket", "socket", path)
	}
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("registration: serve %s: %w", path, err)
	}
	return nil
}

// removeStaleSocket removes a socket a previous run left at path (Listen
// fails on an existing file) and refuses to remove anything that is not a
// socket: the path comes from a flag, and a typo must not delete a file.
func removeStaleSocket(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registration: %w", err)
	}
	if st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("registration: %s exists and is not a socket; refusing to replace it (check --registration-socket)", path)
	}
	return os.Remove(path)
}

// SocketAccepts returns a ready function for Serve that waits until the unix
// socket at path accepts a connection (the CSI service is listening),
// polling every interval, for as long as its context lasts.
func SocketAccepts(path string, interval time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		for {
			conn, err := d.DialContext(ctx, "unix", path)
			if err == nil {
				return conn.Close()
			}
			klog.FromContext(ctx).V(4).Info("Waiting for the CSI socket before registering", "socket", path, "err", err)
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s never accepted a connection: %w", path, err)
			case <-time.After(interval):
			}
		}
	}
}
