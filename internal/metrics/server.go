package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/klog/v2"
)

// Server serves /metrics on an address until its context ends.
type Server struct {
	lis net.Listener
	srv *http.Server
}

// Listen binds addr (host:port; port 0 picks a free one) and returns a
// server for m. Binding here, not in Serve, makes a bad --metrics-address
// fail the start-up instead of a goroutine.
func (m *Metrics) Listen(addr string) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	return &Server{lis: lis, srv: &http.Server{
		Handler: mux,
		// A scraper that never finishes its request must not hold a
		// connection (and a goroutine) forever.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}}, nil
}

// Addr is the bound address (the real port when it was 0).
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// Serve serves until ctx is done, then shuts down within 5 s.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.lis) }()
	klog.FromContext(ctx).V(2).Info("Serving Prometheus metrics", "address", s.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("metrics server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("metrics server shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close releases the listener of a server that never served (start-up
// failed after Listen).
func (s *Server) Close() error { return s.lis.Close() }
