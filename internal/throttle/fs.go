package throttle

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FS is the cgroup filesystem as the backends use it. It exists so that
// unit tests can run the backends on a tree in t.TempDir whose writes behave
// like the kernel's (a write to a limit file merges one device's line
// instead of replacing the file), and so that tests can inject read errors.
// Paths are absolute.
type FS interface {
	ReadFile(name string) ([]byte, error)
	// ReadFiles reads dir/names[i] into data[i], as ReadFile does, and
	// stops at the first error. It is how a backend reads several files of
	// one cgroup (v1's four limit files, its two stat files).
	ReadFiles(dir string, names []string) (data [][]byte, err error)
	// WriteFile writes data with a single write(2) to an existing file,
	// which is how cgroup files take one command.
	WriteFile(name string, data []byte) error
	// WriteFiles writes data[i] into dir/names[i] as WriteFile does, in
	// order, and stops at the first error; written is how many files
	// took their write. It is how a backend writes several knobs of one
	// cgroup (v1 has a file per knob).
	WriteFiles(dir string, names []string, data [][]byte) (written int, err error)
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
}

// OSFS is the real cgroup filesystem.
type OSFS struct{}

var _ FS = OSFS{}

func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// Links is the link count of name, without the fs.FileInfo that Stat
// builds on the heap for it (see linkCount).
func (OSFS) Links(name string) (uint64, error) {
	n, err := statxLinks(name)
	if err != nil {
		return 0, &fs.PathError{Op: "statx", Path: name, Err: err}
	}
	return n, nil
}
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// ReadFile and WriteFile use open, read or write, and close alone.
// os.ReadFile and os.OpenFile also register every file with the runtime's
// poller (epoll_ctl) and wrap it in an *os.File: a third of the cost of
// reading a stat file here (profile of BenchmarkSyncPerGroup), paid for
// every group on every stats sweep.

func (OSFS) ReadFile(name string) ([]byte, error) {
	return readAt(unix.AT_FDCWD, "", name)
}

// ReadFiles opens dir once (O_PATH) and each file relative to it, for the
// reason WriteFiles does: a stats sweep reads six files of a v1 pod cgroup
// and four of each container's.
func (OSFS) ReadFiles(dir string, names []string) ([][]byte, error) {
	dfd, err := open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	data := make([][]byte, len(names))
	for i, name := range names {
		if data[i], err = readAt(dfd, dir, name); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// readAt reads the file name, relative to dirfd, into a pooled buffer and
// returns an exact-size copy; dir is dirfd's path, for errors.
func readAt(dirfd int, dir, name string) ([]byte, error) {
	fd, err := openAt(dirfd, name, unix.O_RDONLY)
	if err != nil {
		return nil, pathError("open", dir, name, err)
	}
	defer unix.Close(fd)
	bp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bp)
	buf := (*bp)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
			*bp = buf
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, pathError("read", dir, name, err)
		}
		if n == 0 {
			return bytes.Clone(buf), nil
		}
		buf = buf[:len(buf)+n]
	}
}

// readBuffers hold the page a cgroup file is read into; the caller gets an
// exact-size copy. A stats sweep reads ten small files per group (most hold
// one line or none), and a fresh 4 KiB buffer for each was most of what the
// plugin allocated: ~70 KiB per group per sweep, a garbage collection every
// ~100 ms at 1,000 groups and a heap twice its live size between them.
var readBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (OSFS) WriteFile(name string, data []byte) error {
	return writeAt(unix.AT_FDCWD, "", name, data)
}

// WriteFiles opens dir once (O_PATH) and each file relative to it. Most of
// what an open of a cgroup file costs is the walk of its path, component by
// component, through kernfs, and v1's four limit files of a pod cgroup sit
// six or more levels down: one walk of the directory and four lookups of a
// single name cost ~15% less than four opens of the full paths (the four
// writes of BenchmarkEnsure's floor, p50, with the fstat of the directory
// included), and the rest of an Ensure, the writes themselves, does not
// change.
func (OSFS) WriteFiles(dir string, names []string, data [][]byte) (int, error) {
	dfd, err := open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return 0, err
	}
	defer unix.Close(dfd)
	for i, name := range names {
		if err := writeAt(dfd, dir, name, data[i]); err != nil {
			return i, err
		}
	}
	return len(names), nil
}

// writeAt writes data with one write(2) to the existing file name, relative
// to dirfd; dir is dirfd's path, for errors.
func writeAt(dirfd int, dir, name string, data []byte) error {
	// No O_CREAT: a cgroup file that is missing means the controller is
	// not there, and creating a regular file in its place would hide that.
	// No O_TRUNC either: it means nothing to cgroupfs.
	fd, err := openAt(dirfd, name, unix.O_WRONLY)
	if err != nil {
		return pathError("open", dir, name, err)
	}
	for {
		_, err = unix.Write(fd, data)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return pathError("write", dir, name, err)
	}
	if err := unix.Close(fd); err != nil {
		return pathError("close", dir, name, err)
	}
	return nil
}

// pathError names the file name of directory dir ("" when name is a whole
// path) in an error. The path is put together here, on the error path
// alone: joined before each call, it was an allocation for every file a
// publish writes and a stats sweep reads.
func pathError(op, dir, name string, err error) error {
	if dir != "" {
		name = dir + "/" + name
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func open(name string, mode int) (int, error) {
	fd, err := openAt(unix.AT_FDCWD, name, mode)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return fd, nil
}

// cPath holds a path as the kernel takes it, NUL-terminated, in a buffer
// the caller keeps on its stack: the unix package's wrappers copy each path
// to the heap to add the NUL: an allocation for the watch, each of the five
// opens and the link count of a v1 Ensure, and for every file a stats sweep
// reads.
type cPath [256]byte

// set copies name into p and returns it for the kernel, or false if it does
// not fit or holds a NUL (the unix package's wrappers refuse that): such a
// path takes the wrapper's way.
func (p *cPath) set(name string) (*byte, bool) {
	if len(name) >= len(p) || strings.IndexByte(name, 0) >= 0 {
		return nil, false
	}
	n := copy(p[:], name)
	p[n] = 0
	return &p[0], true
}

// statxRefused is set once statx(2) has answered ENOSYS or EPERM: the
// kernel or the process's seccomp profile will refuse it every time, so
// later link counts go to stat(2) at once instead of paying a failed
// system call first, on the publish path.
var statxRefused atomic.Bool

// statxLinks is the link count of name from statx(2), asked for that field
// alone, retried on EINTR; its error is the bare errno. statx, not the
// stat family, because its syscall has one name on every architecture (the
// stat that follows links is newfstatat on amd64 and fstatat on arm64). A
// kernel or seccomp profile without statx (ENOSYS, or EPERM from filters
// older than it), or a filesystem that does not fill the count, gets
// stat(2) through the unix package.
func statxLinks(name string) (uint64, error) {
	var p cPath
	if path, ok := p.set(name); ok && !statxRefused.Load() {
		var st unix.Statx_t
		dirfd := unix.AT_FDCWD // a variable: the constant is negative
		errno := unix.EINTR
		for errno == unix.EINTR {
			_, _, errno = unix.Syscall6(unix.SYS_STATX, uintptr(dirfd), uintptr(unsafe.Pointer(path)),
				0, unix.STATX_NLINK, uintptr(unsafe.Pointer(&st)), 0)
		}
		switch {
		case errno == 0 && st.Mask&unix.STATX_NLINK != 0:
			return uint64(st.Nlink), nil
		case errno == unix.ENOSYS || errno == unix.EPERM:
			statxRefused.Store(true)
		case errno != 0:
			return 0, errno
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(name, &st); err != nil {
		return 0, err
	}
	return uint64(st.Nlink), nil
}

// openAt is openat(2), retried on EINTR; its error is the bare errno.
func openAt(dirfd int, name string, mode int) (int, error) {
	var p cPath
	path, ok := p.set(name)
	if !ok {
		for {
			fd, err := unix.Openat(dirfd, name, mode|unix.O_CLOEXEC, 0)
			if !errors.Is(err, unix.EINTR) {
				return fd, err
			}
		}
	}
	for {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)),
			uintptr(mode|unix.O_CLOEXEC), 0, 0, 0)
		switch errno {
		case 0:
			return int(fd), nil
		case unix.EINTR:
			continue
		}
		return -1, errno
	}
}
