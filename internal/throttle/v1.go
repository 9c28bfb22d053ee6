package throttle

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// Files of the v1 blkio controller the backend reads for stats. The
// _recursive variants sum a cgroup and its live descendants. Measured on
// this kernel (6.18): when a container cgroup is removed, its counts drop
// out of the pod's (and the root's) recursive file ~20 ms after rmdir. The
// table therefore notifies the worker on the container's IN_DELETE so that
// it samples before the drop, and the worker carries drops over so totals
// never go down.
const (
	v1ServiceBytesRecursive = "blkio.throttle.io_service_bytes_recursive"
	v1ServicedRecursive     = "blkio.throttle.io_serviced_recursive"
)

// limitWrite is the scratch space of one V1.WriteLimits: the four lines and
// the names of their files. Nothing keeps them after the call.
type limitWrite struct {
	buf   []byte
	names [len(V1Knobs)]string
	lines [len(V1Knobs)][]byte
}

var limitWrites = sync.Pool{New: func() any { return &limitWrite{buf: make([]byte, 0, len(V1Knobs)*48)} }}

// V1 is the cgroup v1 blkio backend.
type V1 struct{ hierarchy }

var _ Backend = (*V1)(nil)

// NewV1 returns a backend for the v1 blkio hierarchy mounted at root
// (normally /sys/fs/cgroup/blkio).
func NewV1(root string, fsys FS) *V1 {
	return &V1{newHierarchy(root, fsys)}
}

func (b *V1) Version() int       { return 1 }
func (b *V1) Hierarchical() bool { return false }
func (b *V1) Description() string {
	return "cgroup v1 blkio at " + b.root +
		" (blk-throttle is not hierarchical: pod limits go on every container cgroup; buffered writeback is only held by scope volume's root-level entry)"
}

// WriteLimits writes all four knobs, unlimited ones as "MAJ:MIN 0", so that
// a knob left over from an earlier run or an earlier spec is cleared too.
// The limits that are set go first: on a new container cgroup they are what
// closes the unthrottled window, the clears only tidy up.
//
// This is the publish path's inner loop (four writes per cgroup): the four
// files are written through one lookup of dir (FS.WriteFiles), and the
// lines are built into one buffer, taken from a pool with the slices that
// name the files: handed through the FS interface they would escape, three
// allocations on every entry written.
func (b *V1) WriteLimits(dir string, dev Device, l Limits) error {
	es := V1Entries(dev, l)
	var order [len(es)]int
	n := 0
	for i, e := range es {
		if e.Value != 0 {
			order[n], n = i, n+1
		}
	}
	for i, e := range es {
		if e.Value == 0 {
			order[n], n = i, n+1
		}
	}
	w := limitWrites.Get().(*limitWrite)
	defer limitWrites.Put(w)
	buf := w.buf[:0]
	for j, i := range order {
		start := len(buf)
		buf = es[i].appendTo(buf)
		w.names[j], w.lines[j] = string(V1Knobs[i]), buf[start:len(buf):len(buf)]
	}
	w.buf = buf
	written, err := b.fs.WriteFiles(dir, w.names[:], w.lines[:])
	if err == nil {
		return nil
	}
	e, name := es[order[written]], dir+"/"+w.names[written]
	if errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("write %q to %s: device %s is not a block device the kernel knows (detached?): %w", e, name, dev, err)
	}
	return fmt.Errorf("write %q to %s: %w", e, name, err)
}

// v1KnobFiles and v1StatFiles are the files ReadLimits and ReadCounters
// read, in the order of V1Knobs and of Counters' two halves.
var (
	v1KnobFiles = []string{string(V1ReadBPS), string(V1WriteBPS), string(V1ReadIOPS), string(V1WriteIOPS)}
	v1StatFiles = []string{v1ServiceBytesRecursive, v1ServicedRecursive}
)

func (b *V1) ReadLimits(dir string, dev Device) (Limits, error) {
	var vals [len(V1Knobs)]uint64
	if err := readDeviceEntries(b.fs, dir, v1KnobFiles, dev, ParseV1Limits, vals[:]); err != nil {
		return Limits{}, err
	}
	return Limits{ReadBytesPerSecond: vals[0], WriteBytesPerSecond: vals[1], ReadIOPS: vals[2], WriteIOPS: vals[3]}, nil
}

func (b *V1) ReadCounters(dir string, dev Device) (Counters, error) {
	var st [2]V1Stat
	if err := readDeviceEntries(b.fs, dir, v1StatFiles, dev, ParseV1Stat, st[:]); err != nil {
		return Counters{}, err
	}
	bytes, ios := st[0], st[1]
	return Counters{ReadBytes: bytes.Read, WriteBytes: bytes.Write, ReadIOs: ios.Read, WriteIOs: ios.Write}, nil
}
