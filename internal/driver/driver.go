// Package driver implements the CSI Identity, Controller and Node services
// of csi-blkio: validation, idempotency and the volume lifecycle. Every side
// effect (loop devices, mounts, the throttle core, the volume store) comes
// in through Deps, so handlers build nothing themselves and can be tested
// against real kernel objects or narrow fakes alike.
package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/codes"
	"k8s.io/mount-utils"

	"github.com/container-storage-interface/spec/lib/go/csi"

	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// TopologyKey is the topology segment every volume and the node carry: a
// volume is a file on one node and can only be used there.
const TopologyKey = "topology.blkio.csi.dev/node"

// Config is the static identity and sizing of the driver.
type Config struct {
	// Name is the CSI driver name (blkio.csi.dev).
	Name string
	// Version is reported by GetPluginInfo.
	Version string
	// NodeID names this node in NodeGetInfo and in volume topology.
	NodeID string
	// StateDir holds the volume store and the staging mounts of inline
	// volumes.
	StateDir string
	// MaxVolumes caps the volumes on this node (NodeGetInfo, CreateVolume);
	// 0 means no cap.
	MaxVolumes int64
}

// Resizer grows a filesystem to its device's size; *mount.ResizeFs fits.
type Resizer interface {
	Resize(devicePath, deviceMountPath string) (bool, error)
}

// RPCObserver receives every call's outcome and latency, so that a metrics
// sink can be attached without the driver knowing about Prometheus.
type RPCObserver interface {
	ObserveRPC(method string, code codes.Code, elapsed time.Duration)
}

// Deps are the driver's side effects.
type Deps struct {
	Store     *volume.Store
	Loop      loop.Attacher
	Mounter   *mount.SafeFormatAndMount
	Resizer   Resizer
	Throttler Throttler
	// Kernel, when set, lets NodeGetVolumeHealth read the limits back from
	// the cgroups (normally the table's throttle.Backend).
	Kernel KernelReader
	// Ready answers Probe: nil when the node can serve volumes, otherwise
	// why not (no cgroup backend, no loop support).
	Ready func(context.Context) error
	// Observer may be nil.
	Observer RPCObserver
	// Burst, when set, is told which groups have a burst (nil: bursts
	// are not run; the baseline alone is enforced).
	Burst BurstTracker
	// Carrier, when set, carries ControllerModifyVolume to the node that
	// holds the volume (internal/kube); nil means standalone: only this
	// node's volumes can be modified, directly.
	Carrier ModifyCarrier
}

// Driver serves the three CSI services.
type Driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer

	cfg      Config
	deps     Deps
	inflight *inflight
}

// New checks cfg and deps and returns a Driver.
func New(cfg Config, deps Deps) (*Driver, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("driver name is required")
	case cfg.NodeID == "":
		return nil, errors.New("node ID is required")
	case cfg.StateDir == "":
		return nil, errors.New("state dir is required")
	case deps.Store == nil || deps.Loop == nil || deps.Mounter == nil || deps.Resizer == nil || deps.Throttler == nil:
		return nil, errors.New("driver dependencies missing: store, loop, mounter, resizer and throttler are required")
	}
	if deps.Ready == nil {
		deps.Ready = func(context.Context) error { return nil }
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "inline"), 0o700); err != nil {
		return nil, fmt.Errorf("create inline staging dir: %w", err)
	}
	return &Driver{cfg: cfg, deps: deps, inflight: newInflight()}, nil
}

// inlineStagingPath is where an inline volume is mounted before the bind
// mount into the pod: inside the state dir, keyed by the validated ID.
func (d *Driver) inlineStagingPath(id string) string {
	return filepath.Join(d.cfg.StateDir, "inline", id)
}
