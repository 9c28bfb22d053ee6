// Package loop attaches regular files as loop block devices. The driver talks
// to it through the Attacher interface so that its node logic can be unit
// tested without root; the Linux implementation speaks the loop ioctls
// directly (no losetup binary in the image, no output parsing).
package loop

import "errors"

// Device is an attached loop device.
type Device struct {
	// Path is the device node, e.g. /dev/loop7.
	Path string
	// DirectIO reports whether the kernel runs the device with direct IO on
	// its backing file. Without it the page cache holds every block twice and
	// writes escape a limit placed on the backing disk (docs/architecture.md, "Kernel facts").
	DirectIO bool
}

// ErrNotAttached: the device is not (or no longer) bound to a file.
var ErrNotAttached = errors.New("loop device not attached")

// Attacher is the narrow loop interface the driver needs.
type Attacher interface {
	// Attach binds backingFile to a free loop device with direct IO.
	Attach(backingFile string) (Device, error)
	// Find returns the device backed by backingFile, if any.
	Find(backingFile string) (Device, bool, error)
	// BackingFile returns the file behind devicePath, ErrNotAttached when none.
	BackingFile(devicePath string) (string, error)
	// Detach unbinds devicePath; detaching a free device succeeds.
	Detach(devicePath string) error
	// Refresh makes devicePath pick up a grown backing file (LOOP_SET_CAPACITY).
	Refresh(devicePath string) error
	// Size returns the size of a block device in bytes.
	Size(devicePath string) (int64, error)
}
