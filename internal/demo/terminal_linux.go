package demo

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal that can redraw lines (not a
// pipe, a file or TERM=dumb); the demo then draws live bars.
func IsTerminal(f *os.File) bool {
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
