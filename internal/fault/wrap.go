package fault

import (
	"context"
	"slices"

	"k8s.io/klog/v2"
	"k8s.io/mount-utils"

	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Arm wraps deps so that in fires at its point. The decorators sit on the
// OS boundary, so the driver's code is the same with and without a fault.
func (in *Injector) Arm(deps *driver.Deps) {
	klog.InfoS("FAULT INJECTION ARMED: this plugin kills itself at a point; for tests only", "point", in.point, "nth", in.nth)
	deps.Loop = loopFault{Attacher: deps.Loop, in: in}
	deps.Mounter.Interface = mountFault{Interface: deps.Mounter.Interface, in: in}
	deps.Throttler = throttleFault{Throttler: deps.Throttler, in: in}
}

type loopFault struct {
	loop.Attacher
	in *Injector
}

func (l loopFault) Attach(file string) (loop.Device, error) {
	dev, err := l.Attacher.Attach(file)
	if err == nil {
		l.in.at(StageAfterAttach)
	}
	return dev, err
}

func (l loopFault) Detach(dev string) error {
	err := l.Attacher.Detach(dev)
	if err == nil {
		l.in.at(UnstageAfterDetach)
	}
	return err
}

func (l loopFault) Refresh(dev string) error {
	err := l.Attacher.Refresh(dev)
	if err == nil {
		l.in.at(ExpandAfterRefresh)
	}
	return err
}

// mountFault tells a publish's bind mount from a stage's filesystem mount
// by the bind option.
type mountFault struct {
	mount.Interface
	in *Injector
}

func (m mountFault) around(options []string, do func() error) error {
	before, after := StageBeforeMount, StageAfterMount
	if slices.Contains(options, "bind") {
		before, after = PublishBeforeBind, PublishAfterBind
	}
	m.in.at(before)
	err := do()
	if err == nil {
		m.in.at(after)
	}
	return err
}

func (m mountFault) Mount(source, target, fstype string, options []string) error {
	return m.around(options, func() error { return m.Interface.Mount(source, target, fstype, options) })
}

func (m mountFault) MountSensitive(source, target, fstype string, options, sensitive []string) error {
	return m.around(options, func() error { return m.Interface.MountSensitive(source, target, fstype, options, sensitive) })
}

type throttleFault struct {
	driver.Throttler
	in *Injector
}

func (t throttleFault) Ensure(ctx context.Context, key throttle.Key, spec throttle.Spec) (throttle.Phase, error) {
	phase, err := t.Throttler.Ensure(ctx, key, spec)
	if err == nil {
		t.in.at(PublishAfterEnsure)
	}
	return phase, err
}

func (t throttleFault) Remove(ctx context.Context, key throttle.Key) error {
	err := t.Throttler.Remove(ctx, key)
	if err == nil {
		t.in.at(UnpublishAfterRemove)
	}
	return err
}
