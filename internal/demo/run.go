package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// NodeOptions are what the demo asks of the node plugin it starts.
type NodeOptions struct {
	// Endpoint is the CSI socket, unix:///path.
	Endpoint string
	// StateDir holds the volumes' records and backing files.
	StateDir string
	NodeID   string
	// KubeletCgroupRoot is the demo's stand-in for kubelet's --cgroup-root.
	KubeletCgroupRoot string
	// StatsInterval is the stats worker's sampling period.
	StatsInterval time.Duration
}

// Groups is what the demo reads of the throttle table.
type Groups interface {
	Get(throttle.Key) (throttle.GroupStatus, bool)
}

// Node is a running node plugin.
type Node struct {
	Groups  Groups
	Backend throttle.Backend
	// Stopped receives the result of serving once it ended (after the
	// context given to StartNode is done, or on a failure to serve) and the
	// node released its resources; then it is closed, so that a second
	// reader does not block.
	Stopped <-chan error
}

// Deps are the demo's side effects, injected by the csi-blkio command.
type Deps struct {
	// StartNode starts the node plugin (the same wiring as `csi-blkio
	// serve`) serving on o.Endpoint until ctx is done.
	StartNode func(ctx context.Context, o NodeOptions) (*Node, error)
	// IOCommand returns the command line of an IO process (RunIO) with args.
	IOCommand func(args []string) *exec.Cmd
	// Out receives the demo's story, the live view and the table.
	Out io.Writer
	// Terminal: Out is a terminal (live bars instead of plain lines).
	Terminal bool
	// CgroupRoot is where the cgroup hierarchies are mounted.
	CgroupRoot string
}

// StatsInterval is the stats worker's period in the demo: short, so that
// it samples several times while the IO runs.
const StatsInterval = time.Second

// Run tells the configured scenario. It returns nil when the kernel did
// what the scenario claims; everything it created is removed before it
// returns, also when ctx is cancelled (Ctrl-C) or a step fails.
func Run(ctx context.Context, cfg Config, d Deps) (err error) {
	set, err := cfg.resolve()
	if err != nil {
		return err
	}
	sc, _ := findScenario(set.Scenario)
	backend, err := preflight(d.CgroupRoot)
	if err != nil {
		return err
	}
	s := newSession(set, d, backend)
	defer func() {
		if ctx.Err() != nil {
			fmt.Fprintln(d.Out, "\ninterrupted: cleaning up")
			// What failed after the cancellation is its consequence.
			err = fmt.Errorf("interrupted (%v); the demo stopped early", context.Cause(ctx))
		}
		err = errors.Join(err, s.close())
	}()
	if err := s.start(ctx); err != nil {
		return err
	}
	return sc.Run(ctx, s)
}
