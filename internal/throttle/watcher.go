package throttle

// ChildWatcher tells the table when a cgroup appears below a watched pod
// cgroup. cgroup v1 blk-throttle is not hierarchical, so each container
// cgroup kubelet's runtime creates below the pod needs the pod's limits as
// soon as it appears; polling would leave containers unthrottled for up to
// a poll interval. The interface exists so that the table does not depend
// on inotify directly; the Linux implementation is NewInotifyWatcher.
type ChildWatcher interface {
	// Watch starts reporting new children of dir for key. Watching the
	// same dir for several keys (a pod with several volumes) is one watch.
	// A dir that does not exist is an error satisfying fs.ErrNotExist, one
	// that is not a directory syscall.ENOTDIR: the table finds a pod's
	// cgroup by watching each place it may be.
	Watch(dir string, key Key) error
	// Unwatch stops reporting dir for key; the last key removes the watch.
	Unwatch(dir string, key Key)
	// Close stops the watcher and waits for its goroutine.
	Close() error
}

// WatchHandler receives the watcher's reports, on the watcher's goroutine.
type WatchHandler interface {
	// ChildCreated: child (an absolute path) appeared below dir, which key watches.
	ChildCreated(key Key, dir, child string)
	// ChildRemoved: child (an absolute path) below dir went away.
	ChildRemoved(key Key, dir, child string)
	// Overflow: events were lost; every watched key must be rescanned.
	Overflow(keys []Key)
}
