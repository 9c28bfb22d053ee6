package throttle

import (
	"io/fs"
	"os"
)

// FS is the cgroup filesystem as the backends use it. It exists so that
// unit tests can run the backends on a tree in t.TempDir whose writes behave
// like the kernel's (a write to a limit file merges one device's line
// instead of replacing the file), and so that tests can inject read errors.
// Paths are absolute.
type FS interface {
	ReadFile(name string) ([]byte, error)
	// WriteFile writes data with a single write(2) to an existing file,
	// which is how cgroup files take one command.
	WriteFile(name string, data []byte) error
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
}

// OSFS is the real cgroup filesystem.
type OSFS struct{}

var _ FS = OSFS{}

func (OSFS) ReadFile(name string) ([]byte, error)       { return os.ReadFile(name) }
func (OSFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

func (OSFS) WriteFile(name string, data []byte) error {
	// No O_CREATE: a cgroup file that is missing means the controller is
	// not there, and creating a regular file in its place would hide that.
	// No O_TRUNC either: it means nothing to cgroupfs.
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return &fs.PathError{Op: "write", Path: name, Err: err}
	}
	return f.Close()
}
