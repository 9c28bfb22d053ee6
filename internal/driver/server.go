package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"k8s.io/klog/v2"
)

// ParseEndpoint splits unix:///path.sock (or unix:/path.sock) into the
// network and the socket path. Only unix sockets are served: the CSI
// endpoint is local to the node.
func ParseEndpoint(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "unix" {
		return "", fmt.Errorf("endpoint %q: scheme must be unix (unix:///path/to/csi.sock)", endpoint)
	}
	p := u.Path
	if p == "" {
		p = u.Opaque
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("endpoint %q: socket path must be absolute", endpoint)
	}
	return p, nil
}

// Serve listens on endpoint and serves the three CSI services until ctx is
// done, then stops gracefully (in-flight calls finish).
func (d *Driver) Serve(ctx context.Context, endpoint string) error {
	sock, err := ParseEndpoint(endpoint)
	if err != nil {
		return err
	}
	// A socket left by a previous run would make Listen fail.
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(sock), 0o750); err != nil {
		return fmt.Errorf("create socket dir: %w", err)
	}
	lis, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sock, err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(d.interceptor))
	csi.RegisterIdentityServer(srv, d)
	csi.RegisterControllerServer(srv, d)
	csi.RegisterNodeServer(srv, d)

	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		klog.FromContext(ctx).V(2).Info("Stopping gRPC server gracefully", "endpoint", endpoint)
		srv.GracefulStop()
	}()
	klog.FromContext(ctx).V(2).Info("Serving CSI", "driver", d.cfg.Name, "node", d.cfg.NodeID, "endpoint", endpoint)
	err = srv.Serve(lis)
	if ctx.Err() != nil {
		<-done // Serve returns at once on GracefulStop; wait for the calls to drain
	}
	_ = os.Remove(sock)
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve %s: %w", endpoint, err)
	}
	return nil
}
