package loop

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctlUint64 runs an ioctl that fills a u64 (BLKGETSIZE64); x/sys has no
// typed helper for it.
func ioctlUint64(fd int, req uint, out *uint64) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(out)))
	if errno != 0 {
		return errno
	}
	return nil
}
