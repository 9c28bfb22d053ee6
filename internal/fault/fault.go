// Package fault lets a test make the real csi-blkio binary die at a named
// point inside a CSI call — as a node crash, an OOM kill or a kubectl
// delete --force would — so that restart recovery and the kubelet's retry
// can be proven on real loop devices, mounts and cgroups.
//
// It is compiled in and inert: only the environment variable
// CSI_BLKIO_FAULT=<point>:kill[@N] arms it, and only then does serve wrap
// the driver's OS-boundary dependencies (loop devices, the mounter, the
// throttle core) in decorators that check for their point. Unset, nothing
// is wrapped, so the production path has not a single extra branch. A build
// tag would have worked too, but then the binary the tests kill would not
// be the binary that ships.
package fault

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// EnvVar arms a fault: CSI_BLKIO_FAULT=stage-after-attach:kill.
const EnvVar = "CSI_BLKIO_FAULT"

// Point names a moment inside a CSI call, between two of its side effects.
type Point string

// The points. Each comment says what is done and what is not when the
// process dies there.
const (
	// Loop device attached; not formatted, mounted or recorded.
	StageAfterAttach Point = "stage-after-attach"
	// Formatted if it was blank; not mounted (mount volumes only).
	StageBeforeMount Point = "stage-before-mount"
	// Mounted at the staging path; the record does not say staged.
	StageAfterMount Point = "stage-after-mount"
	// Publication recorded; target not bind-mounted.
	PublishBeforeBind Point = "publish-before-bind"
	// Target bind-mounted; limits not placed.
	PublishAfterBind Point = "publish-after-bind"
	// Limits placed; the reply not sent.
	PublishAfterEnsure Point = "publish-after-ensure"
	// Group removed; target still mounted and recorded.
	UnpublishAfterRemove Point = "unpublish-after-remove"
	// Loop device detached; the record still says staged.
	UnstageAfterDetach Point = "unstage-after-detach"
	// Loop device sees the grown file; the filesystem not grown.
	ExpandAfterRefresh Point = "expand-after-refresh"
)

// Points lists every point.
func Points() []Point {
	return []Point{StageAfterAttach, StageBeforeMount, StageAfterMount, PublishBeforeBind, PublishAfterBind,
		PublishAfterEnsure, UnpublishAfterRemove, UnstageAfterDetach, ExpandAfterRefresh}
}

// Injector fires at one point.
type Injector struct {
	point Point
	nth   int64 // fire the nth time the point is reached
	hits  atomic.Int64
	// live is set by Activate: points reached before (start-up recovery
	// places groups through the same Ensure) do not count.
	live atomic.Bool
	// kill ends the process; a field so that unit tests can watch it.
	kill func()
}

// Parse reads "<point>:kill" or "<point>:kill@N" (die the Nth time the
// point is reached; default the first).
func Parse(spec string) (*Injector, error) {
	point, action, ok := strings.Cut(spec, ":")
	if !ok {
		return nil, fmt.Errorf("%s=%q: want <point>:kill[@N], points: %s", EnvVar, spec, pointList())
	}
	in := &Injector{point: Point(point), nth: 1, kill: killSelf}
	known := false
	for _, p := range Points() {
		known = known || p == in.point
	}
	if !known {
		return nil, fmt.Errorf("%s=%q: unknown point %q; points: %s", EnvVar, spec, point, pointList())
	}
	action, n, hasN := strings.Cut(action, "@")
	if action != "kill" {
		return nil, fmt.Errorf("%s=%q: unknown action %q; the only action is kill", EnvVar, spec, action)
	}
	if hasN {
		v, err := strconv.ParseInt(n, 10, 32)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%s=%q: @%s is not a positive count", EnvVar, spec, n)
		}
		in.nth = v
	}
	return in, nil
}

func pointList() string {
	var s []string
	for _, p := range Points() {
		s = append(s, string(p))
	}
	return strings.Join(s, ", ")
}

// Point is the point the injector fires at.
func (in *Injector) Point() Point { return in.point }

// Activate makes the points count from now on; serve calls it once
// start-up recovery is done, so that a fault fires inside an RPC.
func (in *Injector) Activate() { in.live.Store(true) }

// at is called by the decorators when p is reached.
func (in *Injector) at(p Point) {
	if p != in.point || !in.live.Load() || in.hits.Add(1) != in.nth {
		return
	}
	klog.ErrorS(nil, "Fault injected: killing the plugin with SIGKILL", "point", p, "env", EnvVar)
	klog.Flush()
	in.kill()
}

// killSelf is what a kill -9 from outside does; it never returns.
func killSelf() {
	_ = unix.Kill(os.Getpid(), unix.SIGKILL)
	select {} // the signal is delivered asynchronously
}
