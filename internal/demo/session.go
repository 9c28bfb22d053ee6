package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Session is one demo run: the node plugin it started, a CSI client to it,
// and an undo list of everything created, run in reverse by close.
type Session struct {
	set     settings
	deps    Deps
	backend throttle.Backend
	node    *Node

	// work is the temp dir: socket, state dir, kubelet-style target paths.
	work string
	// cgroupRoot is the demo's kubelet --cgroup-root below the hierarchy
	// (csi-blkio-demo-<pid>): it can never meet a real kubelet's kubepods.
	cgroupRoot string
	cgroups    cgroupTree
	parentsOK  bool

	conn       *grpc.ClientConn
	controller csi.ControllerClient
	csiNode    csi.NodeClient

	undo []undoStep
}

type undoStep struct {
	what string
	fn   func(context.Context) error
}

func newSession(set settings, d Deps, b throttle.Backend) *Session {
	return &Session{
		set: set, deps: d, backend: b,
		cgroupRoot: fmt.Sprintf("csi-blkio-demo-%d", os.Getpid()),
		cgroups:    cgroupTree{hierarchy: b.Hierarchy(), v2: b.Version() == 2},
	}
}

// onClose registers fn to undo a step; close runs them newest first.
func (s *Session) onClose(what string, fn func(context.Context) error) {
	s.undo = append(s.undo, undoStep{what, fn})
}

// undoTimeout bounds one cleanup step (an unmount, a CSI call).
const undoTimeout = 30 * time.Second

// close undoes every step, newest first, going on past failures, and
// returns them joined. It does not use the run's context: after Ctrl-C
// that is cancelled, and cleaning up is exactly what must still happen.
func (s *Session) close() error {
	var errs []error
	for i := len(s.undo) - 1; i >= 0; i-- {
		st := s.undo[i]
		ctx, cancel := context.WithTimeout(context.Background(), undoTimeout)
		if err := st.fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cleanup: %s: %w", st.what, err))
		}
		cancel()
	}
	n := len(s.undo)
	s.undo = nil
	if len(errs) > 0 {
		s.say("cleanup", "FAILED for %d of %d steps; see the errors below", len(errs), n)
		return errors.Join(errs...)
	}
	if n > 0 {
		s.say("cleanup", "removed everything the demo created (%d steps: publications, volumes, loop devices, mounts, cgroups, temp dir)", n)
	}
	return nil
}

// say prints one step of the story: a short label and what happened.
func (s *Session) say(label, format string, args ...any) {
	fmt.Fprintf(s.deps.Out, "  %-13s %s\n", label, fmt.Sprintf(format, args...))
}

// Printf writes free text to the demo's output.
func (s *Session) Printf(format string, args ...any) { fmt.Fprintf(s.deps.Out, format, args...) }

// start makes the temp dir, starts the node plugin on a socket in it and
// connects to it.
func (s *Session) start(ctx context.Context) error {
	work, err := os.MkdirTemp("", "csi-blkio-demo-")
	if err != nil {
		return err
	}
	// The loop devices report their backing files by real path; the
	// last-resort sweep compares against it.
	if work, err = filepath.EvalSymlinks(work); err != nil {
		return err
	}
	s.work = work
	s.onClose("remove "+work, func(context.Context) error { return removeWorkDir(work) })
	s.onClose("sweep leftovers under "+work, func(context.Context) error { return sweep(work) })

	s.Printf("csi-blkio demo: the real node plugin, in-process, on this machine's kernel\n")
	s.say("cgroups", "%s", s.backend.Description())
	sock := filepath.Join(work, "csi.sock")
	endpoint := "unix://" + sock
	// The node serves until close stops it: not until ctx, which a Ctrl-C
	// cancels while the cleanup still needs the node.
	nctx, stopNode := context.WithCancel(context.WithoutCancel(ctx))
	node, err := s.deps.StartNode(nctx, NodeOptions{
		Endpoint: endpoint, StateDir: filepath.Join(work, "state"), NodeID: "csi-blkio-demo",
		KubeletCgroupRoot: "/" + s.cgroupRoot, StatsInterval: StatsInterval,
	})
	if err != nil {
		stopNode()
		return fmt.Errorf("start the node plugin: %w", err)
	}
	s.node = node
	s.onClose("stop the node plugin", func(ctx context.Context) error {
		stopNode()
		select {
		case err := <-node.Stopped:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	s.onClose("close the CSI connection", func(context.Context) error { return conn.Close() })
	s.conn, s.controller, s.csiNode = conn, csi.NewControllerClient(conn), csi.NewNodeClient(conn)
	if err := s.waitReady(ctx, sock); err != nil {
		return err
	}
	s.say("node plugin", "serving CSI on %s, state in %s", endpoint, filepath.Join(work, "state"))
	return nil
}

// waitReady waits for the socket and a ready Probe.
func (s *Session) waitReady(ctx context.Context, sock string) error {
	deadline := time.Now().Add(15 * time.Second)
	ident := csi.NewIdentityClient(s.conn)
	for {
		if _, err := os.Stat(sock); err == nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := ident.Probe(pctx, &csi.ProbeRequest{})
			cancel()
			if err == nil && resp.GetReady().GetValue() {
				return nil
			}
			if err == nil {
				return errors.New("the node plugin's Probe answers not ready; its log above says why")
			}
		}
		select {
		case err := <-s.node.Stopped:
			return fmt.Errorf("the node plugin stopped before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the node plugin did not answer on %s within 15 s", sock)
		}
	}
}

// group returns a throttle group's status from the node's table.
func (s *Session) group(key throttle.Key) (throttle.GroupStatus, bool) { return s.node.Groups.Get(key) }

// since formats the time since start for the story: "12 ms".
func since(start time.Time) string {
	d := time.Since(start)
	if d < time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
