//go:build bench

package bench

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/mount-utils"
	utilexec "k8s.io/utils/exec"

	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// spans adds up the time the driver spends in each step of the publish
// path. The steps are timed by wrapping the driver's injected dependencies
// (loop, mounter, mkfs/blkid runner, throttle core), so the driver runs
// unchanged and nothing in it knows it is being measured.
type spans struct {
	mu sync.Mutex
	d  map[string]time.Duration

	// floor, when set, times Ensure's floor for a spec (the bare limit
	// writes into a pod cgroup of its own); timedThrottler takes it
	// beside every Ensure, before the call and after it in turn, so that
	// both run in the same goroutine, at the same point of the publish
	// path, with the same caches warm or cold. The floors go to floors,
	// and the whole time spent on them (the untimed set-up included) to
	// the step "floor", which is not part of the publish path.
	floor  func(throttle.Spec) time.Duration
	floors []time.Duration
	calls  int
}

func newSpans() *spans { return &spans{d: map[string]time.Duration{}} }

func (s *spans) since(step string, start time.Time) {
	el := time.Since(start)
	s.mu.Lock()
	s.d[step] += el
	s.mu.Unlock()
}

// take returns the spans so far and starts again from zero.
func (s *spans) take() map[string]time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.d
	s.d = map[string]time.Duration{}
	return out
}

// wrap instruments deps; pass it to drivertest.StartWith.
func (s *spans) wrap(deps *driver.Deps) {
	deps.Loop = timedLoop{Attacher: deps.Loop, s: s}
	deps.Mounter = mount.NewSafeFormatAndMount(timedMounter{Interface: deps.Mounter.Interface, s: s}, timedExec{Interface: deps.Mounter.Exec, s: s})
	deps.Throttler = timedThrottler{Throttler: deps.Throttler, s: s}
}

type timedLoop struct {
	loop.Attacher
	s *spans
}

func (l timedLoop) Attach(f string) (loop.Device, error) {
	defer l.s.since("attach", time.Now())
	return l.Attacher.Attach(f)
}

func (l timedLoop) Find(f string) (loop.Device, bool, error) {
	defer l.s.since("attach", time.Now())
	return l.Attacher.Find(f)
}

// timedMounter times the filesystem mount (staging) and the bind mount
// (publish) apart; mount-utils mounts a formatted device through
// MountSensitive.
type timedMounter struct {
	mount.Interface
	s *spans
}

func mountStep(opts []string) string {
	if slices.Contains(opts, "bind") {
		return "bind mount"
	}
	return "mount"
}

func (m timedMounter) Mount(source, target, fstype string, opts []string) error {
	defer m.s.since(mountStep(opts), time.Now())
	return m.Interface.Mount(source, target, fstype, opts)
}

func (m timedMounter) MountSensitive(source, target, fstype string, opts, sensitive []string) error {
	defer m.s.since(mountStep(opts), time.Now())
	return m.Interface.MountSensitive(source, target, fstype, opts, sensitive)
}

func (m timedMounter) IsLikelyNotMountPoint(p string) (bool, error) {
	defer m.s.since("mount check", time.Now())
	return m.Interface.IsLikelyNotMountPoint(p)
}

// timedExec times the commands SafeFormatAndMount runs: blkid (is the
// device formatted?) and mkfs.
type timedExec struct {
	utilexec.Interface
	s *spans
}

func (x timedExec) Command(name string, args ...string) utilexec.Cmd {
	step := filepath.Base(name)
	if strings.HasPrefix(step, "mkfs") {
		step = "mkfs"
	}
	return timedCmd{Cmd: x.Interface.Command(name, args...), step: step, s: x.s}
}

type timedCmd struct {
	utilexec.Cmd
	step string
	s    *spans
}

func (c timedCmd) Run() error {
	defer c.s.since(c.step, time.Now())
	return c.Cmd.Run()
}

func (c timedCmd) CombinedOutput() ([]byte, error) {
	defer c.s.since(c.step, time.Now())
	return c.Cmd.CombinedOutput()
}

func (c timedCmd) Output() ([]byte, error) {
	defer c.s.since(c.step, time.Now())
	return c.Cmd.Output()
}

type timedThrottler struct {
	driver.Throttler
	s *spans
}

func (t timedThrottler) Ensure(ctx context.Context, k throttle.Key, spec throttle.Spec) (throttle.Phase, error) {
	t.s.mu.Lock()
	floor, first := t.s.floor, t.s.calls%2 == 0
	t.s.calls++
	t.s.mu.Unlock()
	if floor != nil && first {
		t.s.timeFloor(floor, spec)
	}
	start := time.Now()
	phase, err := t.Throttler.Ensure(ctx, k, spec)
	t.s.since("throttle", start)
	if floor != nil && !first {
		t.s.timeFloor(floor, spec)
	}
	return phase, err
}

func (s *spans) timeFloor(floor func(throttle.Spec) time.Duration, spec throttle.Spec) {
	start := time.Now()
	took := floor(spec)
	s.since("floor", start)
	s.mu.Lock()
	s.floors = append(s.floors, took)
	s.mu.Unlock()
}

// setFloor starts (f) or stops (nil) timing Ensure's floor beside each
// Ensure, and returns the floors taken since the last call.
func (s *spans) setFloor(f func(throttle.Spec) time.Duration) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.floors
	s.floor, s.floors = f, nil
	return out
}
