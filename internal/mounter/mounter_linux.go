// Package mounter is the driver's mount.Interface: k8s.io/mount-utils for
// everything, except that the mounts of the publish path are made with
// mount(2) instead of by forking mount(8), and unmounts with umount2(2).
//
// Why: forking mount(8) cost 4-5 ms per call here, once for the staging
// mount and once (twice when read-only) for the bind mount of every
// publication — a third of the whole stage+publish path (docs/benchmarks.md,
// section 3). The system call itself takes tens of microseconds for a bind
// mount. mount(8) earns its cost only for what the kernel does not parse:
// userspace options (nofail, x-*, _netdev, ...), fs-specific mount helpers,
// and options that a bind mount applies by a second remount. Those are not
// on the common path, so any mount that carries an option other than the
// few below goes to mount-utils unchanged.
package mounter

import (
	"fmt"

	"golang.org/x/sys/unix"
	"k8s.io/mount-utils"
)

// Mounter is a mount.Interface whose Mount and MountSensitive use mount(2)
// for plain mounts and bind mounts and whose Unmount uses umount2(2); all
// other methods are mount-utils'.
type Mounter struct {
	mount.Interface
}

// New returns the Mounter for this host (mount-utils' default mounter
// for the slow path and for everything but mounting).
func New() *Mounter { return &Mounter{Interface: mount.New("")} }

// Mount implements mount.Interface.
func (m *Mounter) Mount(source, target, fstype string, options []string) error {
	return m.MountSensitive(source, target, fstype, options, nil)
}

// MountSensitive implements mount.Interface. Sensitive options are never
// on the fast path: they are passed to mount(8) so that mount-utils keeps
// them out of its logs.
func (m *Mounter) MountSensitive(source, target, fstype string, options, sensitiveOptions []string) error {
	o, ok := parse(options)
	if !ok || len(sensitiveOptions) > 0 {
		return m.Interface.MountSensitive(source, target, fstype, options, sensitiveOptions)
	}
	if o.bind {
		return bind(source, target, o.readOnly)
	}
	var flags uintptr
	if o.readOnly {
		flags = unix.MS_RDONLY
	}
	if err := unix.Mount(source, target, fstype, flags, ""); err != nil {
		return fmt.Errorf("mount %s (%s) at %s: %w", source, fstype, target, err)
	}
	return nil
}

// Unmount implements mount.Interface with umount2(2) instead of forking
// umount(8), for the fork's cost and for the error: umount(8) reports a busy
// filesystem as text ("target is busy"), the system call as EBUSY, which
// the driver answers with a code that tells the kubelet to retry. The
// driver detaches loop devices itself, so nothing of what umount(8) adds is
// needed.
func (m *Mounter) Unmount(target string) error {
	if err := unix.Unmount(target, 0); err != nil {
		return fmt.Errorf("umount2: %w", err) // the caller names the path
	}
	return nil
}

// bind mounts source at target. The kernel ignores MS_RDONLY on the call
// that creates a bind mount, so a read-only one takes a second call that
// remounts the new mount point alone (what mount(8) does too).
func bind(source, target string, readOnly bool) error {
	if err := unix.Mount(source, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind mount %s at %s: %w", source, target, err)
	}
	if !readOnly {
		return nil
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		// Never leave a writable mount behind a read-only request.
		if uerr := unix.Unmount(target, 0); uerr != nil {
			return fmt.Errorf("make bind mount at %s read-only: %w (and unmount it: %v)", target, err, uerr)
		}
		return fmt.Errorf("make bind mount at %s read-only: %w", target, err)
	}
	return nil
}

// options is what the fast path understands of a mount's options.
type options struct {
	bind, readOnly bool
}

// parse reads options; ok is false when one of them needs mount(8).
func parse(opts []string) (o options, ok bool) {
	for _, opt := range opts {
		switch opt {
		case "bind":
			o.bind = true
		case "ro":
			o.readOnly = true
		case "rw":
			o.readOnly = false
		case "defaults":
			// rw, suid, dev, exec, auto, nouser, async: the flags of a
			// mount(2) call without flags.
		default:
			return options{}, false
		}
	}
	return o, true
}
