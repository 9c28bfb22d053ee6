package throttle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// inotifyWatcher watches pod cgroups with one inotify instance for all of
// them (one fd per node, not per pod) and one goroutine that reads events.
type inotifyWatcher struct {
	f       *os.File
	fd      int // the raw fd for the watch syscalls: f.Fd() would make f blocking
	handler WatchHandler
	done    chan struct{}

	mu     sync.Mutex // guards the maps and closed; no IO under it besides the watch syscalls
	closed bool
	byDir  map[string]int32
	byWD   map[int32]*watch
}

// watch is one watched directory and the groups it reports to: the
// groups of one pod's volumes, a handful. A slice, not a map, whose first
// insert would cost a 260-byte table on the publish path.
type watch struct {
	dir  string
	keys []Key
}

// addKey makes the watch report to key, once.
func (wt *watch) addKey(key Key) {
	if !slices.Contains(wt.keys, key) {
		wt.keys = append(wt.keys, key)
	}
}

// NewInotifyWatcher starts a watcher that reports to h.
func NewInotifyWatcher(h WatchHandler) (ChildWatcher, error) {
	// Non-blocking, so that the fd goes through Go's poller and Close
	// interrupts the reader goroutine's Read.
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	w := &inotifyWatcher{
		f:       os.NewFile(uintptr(fd), "inotify"),
		fd:      fd,
		handler: h,
		done:    make(chan struct{}),
		byDir:   map[string]int32{},
		byWD:    map[int32]*watch{},
	}
	go w.run()
	return w, nil
}

// watchMask: mkdir in cgroupfs fires IN_CREATE on the parent (measured
// 0.4 ms after it on v1); IN_MOVED_TO covers trees built elsewhere and
// moved in (test trees); IN_DELETE lets the table drop a container's
// entries when its cgroup goes. IN_ONLYDIR refuses to watch a non-directory.
const watchMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_DELETE | unix.IN_ONLYDIR

func (w *inotifyWatcher) Watch(dir string, key Key) error {
	dir = filepath.Clean(dir)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("watch %s: watcher closed", dir)
	}
	if wd, ok := w.byDir[dir]; ok {
		w.byWD[wd].addKey(key)
		return nil
	}
	wd, err := addWatch(w.fd, dir, watchMask)
	if err != nil {
		return fmt.Errorf("inotify_add_watch %s: %w", dir, err)
	}
	id := int32(wd)
	if old, ok := w.byWD[id]; ok {
		// The same inode under another name: share the watch.
		old.addKey(key)
		w.byDir[dir] = id
		return nil
	}
	w.byDir[dir] = id
	w.byWD[id] = &watch{dir: dir, keys: []Key{key}}
	return nil
}

// addWatch is inotify_add_watch(2) with the path passed from the stack
// (cPath), as openAt passes it.
func addWatch(fd int, dir string, mask uint32) (int, error) {
	var p cPath
	path, ok := p.set(dir)
	if !ok {
		return unix.InotifyAddWatch(fd, dir, mask)
	}
	wd, _, errno := unix.Syscall(unix.SYS_INOTIFY_ADD_WATCH, uintptr(fd), uintptr(unsafe.Pointer(path)), uintptr(mask))
	if errno != 0 {
		return -1, errno
	}
	return int(wd), nil
}

func (w *inotifyWatcher) Unwatch(dir string, key Key) {
	dir = filepath.Clean(dir)
	w.mu.Lock()
	defer w.mu.Unlock()
	wd, ok := w.byDir[dir]
	if !ok || w.closed {
		return
	}
	wt := w.byWD[wd]
	wt.keys = slices.DeleteFunc(wt.keys, func(k Key) bool { return k == key })
	if len(wt.keys) > 0 {
		return
	}
	delete(w.byDir, dir)
	delete(w.byWD, wd)
	// EINVAL: the kernel already dropped the watch (the dir was removed).
	if _, err := unix.InotifyRmWatch(w.fd, uint32(wd)); err != nil && !errors.Is(err, unix.EINVAL) {
		klog.ErrorS(err, "inotify_rm_watch", "dir", dir)
	}
}

func (w *inotifyWatcher) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	err := w.f.Close()
	<-w.done
	return err
}

func (w *inotifyWatcher) run() {
	defer close(w.done)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				klog.ErrorS(err, "Reading inotify events stopped; new container cgroups now get their limits from the periodic resync only")
			}
			return
		}
		w.dispatch(buf[:n])
	}
}

func (w *inotifyWatcher) dispatch(buf []byte) {
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
		off += unix.SizeofInotifyEvent + int(ev.Len)
		name := string(nameBytes)
		for i := 0; i < len(name); i++ {
			if name[i] == 0 { // names are NUL-padded
				name = name[:i]
				break
			}
		}
		switch {
		case ev.Mask&unix.IN_Q_OVERFLOW != 0:
			w.handler.Overflow(w.allKeys())
		case ev.Mask&unix.IN_IGNORED != 0:
			w.dropWD(ev.Wd)
		case ev.Mask&unix.IN_ISDIR == 0 || name == "":
		case ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
			dir, keys := w.lookup(ev.Wd)
			for _, k := range keys {
				w.handler.ChildCreated(k, dir, filepath.Join(dir, name))
			}
		case ev.Mask&unix.IN_DELETE != 0:
			dir, keys := w.lookup(ev.Wd)
			for _, k := range keys {
				w.handler.ChildRemoved(k, dir, filepath.Join(dir, name))
			}
		}
	}
}

func (w *inotifyWatcher) lookup(wd int32) (string, []Key) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wt, ok := w.byWD[wd]
	if !ok {
		return "", nil
	}
	// A copy: the handler runs without mu, while Watch may append.
	return wt.dir, slices.Clone(wt.keys)
}

func (w *inotifyWatcher) allKeys() []Key {
	w.mu.Lock()
	defer w.mu.Unlock()
	var keys []Key
	for _, wt := range w.byWD {
		keys = append(keys, wt.keys...)
	}
	return keys
}

// dropWD forgets a watch the kernel removed because its directory went away
// (the pod cgroup was deleted).
func (w *inotifyWatcher) dropWD(wd int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wt, ok := w.byWD[wd]; ok {
		delete(w.byDir, wt.dir)
		delete(w.byWD, wd)
	}
}
