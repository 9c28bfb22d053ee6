// Package registration serves the kubelet's plugin-registration API
// (k8s.io/kubelet/pkg/apis/pluginregistration/v1) on a socket in the
// kubelet's plugins_registry directory, so that csi-blkio registers itself
// with the kubelet without the node-driver-registrar sidecar.
//
// The kubelet's plugin watcher sees the socket appear, calls GetInfo, dials
// the announced CSI endpoint (NodeGetInfo) and reports the outcome through
// NotifyRegistrationStatus. Removing the socket deregisters the plugin.
package registration

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"k8s.io/klog/v2"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// supportedVersion is the CSI version announced to the kubelet; its CSI
// plugin handler accepts any 1.x.
const supportedVersion = "1.0.0"

// Config says what to announce.
type Config struct {
	// DriverName is the CSI driver name the kubelet registers.
	DriverName string
	// Endpoint is the CSI socket path as the kubelet sees it (in a pod it
	// differs from the path the plugin listens on).
	Endpoint string
}

// Status is the last registration outcome the kubelet reported.
type Status struct {
	// Notified is false until the kubelet called NotifyRegistrationStatus.
	Notified bool
	// Registered is the kubelet's verdict.
	Registered bool
	// Error is the kubelet's reason when Registered is false.
	Error string
}

// Server answers the kubelet's registration calls.
type Server struct {
	registerapi.UnimplementedRegistrationServer

	cfg Config

	// mu guards status, written by the gRPC handler and read by Status.
	mu     sync.Mutex
	status Status
}

// New validates cfg and returns a server for it.
func New(cfg Config) (*Server, error) {
	if cfg.DriverName == "" {
		return nil, errors.New("registration: a driver name is required")
	}
	if !filepath.IsAbs(cfg.Endpoint) {
		return nil, fmt.Errorf("registration: the kubelet-side CSI endpoint %q must be an absolute socket path", cfg.Endpoint)
	}
	return &Server{cfg: cfg}, nil
}

// GetInfo tells the kubelet which CSI driver this is and where its socket is.
func (s *Server) GetInfo(ctx context.Context, _ *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	klog.FromContext(ctx).V(4).Info("Kubelet asked for plugin info", "driver", s.cfg.DriverName, "endpoint", s.cfg.Endpoint)
	return &registerapi.PluginInfo{
		Type:              registerapi.CSIPlugin,
		Name:              s.cfg.DriverName,
		Endpoint:          s.cfg.Endpoint,
		SupportedVersions: []string{supportedVersion},
	}, nil
}

// NotifyRegistrationStatus records the kubelet's verdict. A refusal is
// logged as an error but does not stop the plugin: the kubelet retries
// registration while the socket exists, and the CSI service must keep
// serving the volumes already published.
func (s *Server) NotifyRegistrationStatus(ctx context.Context, st *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	s.mu.Lock()
	s.status = Status{Notified: true, Registered: st.GetPluginRegistered(), Error: st.GetError()}
	s.mu.Unlock()
	if st.GetPluginRegistered() {
		klog.FromContext(ctx).V(2).Info("Registered with the kubelet", "driver", s.cfg.DriverName, "endpoint", s.cfg.Endpoint)
	} else {
		klog.FromContext(ctx).Error(nil, "The kubelet refused the plugin registration; check that the CSI endpoint the kubelet sees is right (--kubelet-plugin-endpoint)",
			"driver", s.cfg.DriverName, "endpoint", s.cfg.Endpoint, "reason", st.GetError())
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}

// Status returns the last outcome the kubelet reported.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}
