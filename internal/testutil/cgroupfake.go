package testutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// FakeCgroup is a cgroup hierarchy in t.TempDir that behaves like the
// kernel's where the throttle core depends on it: each cgroup directory
// appears together with the files the kernel gives it; a write to a limit
// file (v1 blkio.throttle.*_device, v2 io.max) sets or removes one device's
// line instead of replacing the file; a malformed write fails with EINVAL;
// v2 cgroups have io.max and io.stat only when their parent enables io in
// cgroup.subtree_control. The stat files are written by the test in the
// kernel's exact format (SetIO). It implements throttle.FS.
type FakeCgroup struct {
	// CgroupRoot is what --cgroup-root would name (the tmpfs of
	// /sys/fs/cgroup); Root is the hierarchy (v1: CgroupRoot/blkio).
	CgroupRoot string
	Root       string
	Version    int

	stage string // where a cgroup is built before it is moved into place

	mu        sync.Mutex
	failReads map[string]error
	writes    int
	stats     map[string]map[string]IO // cgroup dir -> device -> counters
	limits    map[string][]string      // limit file -> lines, newest first
}

// IO is one device's counters in a fake cgroup.
type IO struct {
	ReadBytes, WriteBytes, ReadIOs, WriteIOs uint64
}

var v1LimitFiles = []string{
	"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
	"blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device",
}

var v1StatFiles = []string{
	"blkio.throttle.io_service_bytes", "blkio.throttle.io_service_bytes_recursive",
	"blkio.throttle.io_serviced", "blkio.throttle.io_serviced_recursive",
}

// NewFakeCgroupV1 lays out a v1 blkio hierarchy at <tmp>/blkio, as on a
// hybrid host: <tmp>/unified is cgroup2 without io.
func NewFakeCgroupV1(t testing.TB) *FakeCgroup {
	t.Helper()
	f := newFake(t, 1)
	f.Root = filepath.Join(f.CgroupRoot, "blkio")
	f.mkdirOne(f.Root, true)
	f.must(t, os.MkdirAll(filepath.Join(f.CgroupRoot, "unified"), 0o755))
	f.must(t, os.WriteFile(filepath.Join(f.CgroupRoot, "unified", "cgroup.controllers"), []byte("\n"), 0o644))
	return f
}

// NewFakeCgroupV2 lays out a cgroup2 root with io enabled for its children.
func NewFakeCgroupV2(t testing.TB) *FakeCgroup {
	t.Helper()
	f := newFake(t, 2)
	f.Root = f.CgroupRoot
	f.must(t, os.WriteFile(filepath.Join(f.Root, "cgroup.controllers"), []byte("cpuset cpu io memory hugetlb pids rdma misc\n"), 0o644))
	f.must(t, os.WriteFile(filepath.Join(f.Root, "cgroup.subtree_control"), []byte("cpu io memory pids\n"), 0o644))
	f.must(t, os.WriteFile(filepath.Join(f.Root, "cgroup.procs"), nil, 0o644))
	return f
}

func newFake(t testing.TB, version int) *FakeCgroup {
	base := t.TempDir()
	f := &FakeCgroup{
		CgroupRoot: filepath.Join(base, "cgroup"),
		Version:    version,
		stage:      filepath.Join(base, "stage"),
		failReads:  map[string]error{},
		stats:      map[string]map[string]IO{},
		limits:     map[string][]string{},
	}
	f.must(t, os.MkdirAll(f.CgroupRoot, 0o755))
	f.must(t, os.MkdirAll(f.stage, 0o755))
	return f
}

func (f *FakeCgroup) must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Path returns the absolute path of rel inside the hierarchy.
func (f *FakeCgroup) Path(rel string) string { return filepath.Join(f.Root, rel) }

// Mkdir creates the cgroup rel (and its missing parents), each appearing
// at once with its files, as mkdir in cgroupfs does (built aside, then
// renamed into place). It returns the absolute path.
func (f *FakeCgroup) Mkdir(t testing.TB, rel string) string {
	t.Helper()
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	dir := f.Root
	for _, p := range parts {
		dir = filepath.Join(dir, p)
		if _, err := os.Stat(dir); err == nil {
			continue
		}
		tmp, err := os.MkdirTemp(f.stage, "cg")
		f.must(t, err)
		f.mkdirOneAt(tmp, dir)
		f.must(t, os.Rename(tmp, dir))
	}
	return dir
}

// Rmdir removes the (empty of children) cgroup rel, as rmdir does.
func (f *FakeCgroup) Rmdir(t testing.TB, rel string) {
	t.Helper()
	dir := f.Path(rel)
	ents, err := os.ReadDir(dir)
	f.must(t, err)
	for _, e := range ents {
		if e.IsDir() {
			t.Fatalf("rmdir %s: child cgroup %s exists (EBUSY)", dir, e.Name())
		}
	}
	f.must(t, os.RemoveAll(dir))
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.stats, dir)
	for k := range f.limits {
		if filepath.Dir(k) == dir {
			delete(f.limits, k)
		}
	}
}

func (f *FakeCgroup) mkdirOne(dir string, isRoot bool) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	f.writeFiles(dir, dir, isRoot)
}

func (f *FakeCgroup) mkdirOneAt(tmp, final string) { f.writeFiles(tmp, final, false) }

// writeFiles creates the kernel's files of cgroup final in directory at.
func (f *FakeCgroup) writeFiles(at, final string, isRoot bool) {
	w := func(name, content string) {
		if err := os.WriteFile(filepath.Join(at, name), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
	w("cgroup.procs", "")
	if f.Version == 1 {
		w("tasks", "")
		for _, n := range v1LimitFiles {
			w(n, "")
		}
		for _, n := range v1StatFiles {
			w(n, "Total 0\n")
		}
		return
	}
	parentCtl, _ := os.ReadFile(filepath.Join(filepath.Dir(final), "cgroup.subtree_control"))
	w("cgroup.controllers", string(parentCtl))
	w("cgroup.subtree_control", "")
	if strings.Contains(" "+strings.TrimSpace(string(parentCtl))+" ", " io ") {
		w("io.max", "")
		w("io.stat", "")
	}
}

// EnableIO adds io to cgroup.subtree_control of rel (v2), so that
// children created afterwards get io.max.
func (f *FakeCgroup) EnableIO(t testing.TB, rel string) {
	t.Helper()
	name := filepath.Join(f.Path(rel), "cgroup.subtree_control")
	b, err := os.ReadFile(name)
	f.must(t, err)
	f.must(t, os.WriteFile(name, []byte(strings.TrimSpace(string(b)+" io")+"\n"), 0o644))
}

// SetIO sets the counters of dev ("7:0") in the cgroup at absolute path
// dir and rewrites its stat files in the kernel's format (v1: the four
// throttle stat files, recursive and not alike; v2: io.stat).
func (f *FakeCgroup) SetIO(t testing.TB, dir, dev string, io IO) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stats[dir] == nil {
		f.stats[dir] = map[string]IO{}
	}
	f.stats[dir][dev] = io
	devs := sortedKeys(f.stats[dir])
	if f.Version == 2 {
		var b strings.Builder
		for _, d := range devs {
			c := f.stats[dir][d]
			fmt.Fprintf(&b, "%s rbytes=%d wbytes=%d rios=%d wios=%d dbytes=0 dios=0\n", d, c.ReadBytes, c.WriteBytes, c.ReadIOs, c.WriteIOs)
		}
		f.must(t, f.replace(filepath.Join(dir, "io.stat"), []byte(b.String())))
		return
	}
	v1 := func(read, write func(IO) uint64) string {
		var b strings.Builder
		var total uint64
		for _, d := range devs {
			c := f.stats[dir][d]
			r, w := read(c), write(c)
			// The fake counts every write as sync (direct IO).
			fmt.Fprintf(&b, "%s Read %d\n%s Write %d\n%s Sync %d\n%s Async %d\n%s Discard 0\n%s Total %d\n",
				d, r, d, w, d, w, d, r, d, d, r+w)
			total += r + w
		}
		fmt.Fprintf(&b, "Total %d\n", total)
		return b.String()
	}
	bytes := v1(func(c IO) uint64 { return c.ReadBytes }, func(c IO) uint64 { return c.WriteBytes })
	ios := v1(func(c IO) uint64 { return c.ReadIOs }, func(c IO) uint64 { return c.WriteIOs })
	for _, n := range v1StatFiles {
		content := ios
		if strings.Contains(n, "bytes") {
			content = bytes
		}
		f.must(t, f.replace(filepath.Join(dir, n), []byte(content)))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// FailReads makes every read of the absolute path name fail with err
// (nil: reads work again).
func (f *FakeCgroup) FailReads(name string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.failReads, name)
		return
	}
	f.failReads[name] = err
}

// Writes counts the writes to limit files so far.
func (f *FakeCgroup) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// ReadFile implements throttle.FS.
func (f *FakeCgroup) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	err := f.failReads[name]
	f.mu.Unlock()
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return os.ReadFile(name)
}

// ReadFiles implements throttle.FS: ReadFile of each file in turn.
func (f *FakeCgroup) ReadFiles(dir string, names []string) ([][]byte, error) {
	data := make([][]byte, len(names))
	for i, name := range names {
		var err error
		if data[i], err = f.ReadFile(filepath.Join(dir, name)); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// Stat implements throttle.FS.
func (f *FakeCgroup) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// ReadDir implements throttle.FS.
func (f *FakeCgroup) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// WriteFiles implements throttle.FS: WriteFile of each file in turn.
func (f *FakeCgroup) WriteFiles(dir string, names []string, data [][]byte) (int, error) {
	for i, name := range names {
		if err := f.WriteFile(filepath.Join(dir, name), data[i]); err != nil {
			return i, err
		}
	}
	return len(names), nil
}

// WriteFile implements throttle.FS with the kernel's semantics.
func (f *FakeCgroup) WriteFile(name string, data []byte) error {
	if _, err := os.Stat(name); err != nil {
		return err // ENOENT, as opening a file cgroupfs does not have
	}
	base := filepath.Base(name)
	isLimit := base == "io.max" || strings.HasPrefix(base, "blkio.throttle.") && strings.HasSuffix(base, "_device")
	if !isLimit {
		return os.WriteFile(name, data, 0o644)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	fields := strings.Fields(string(data))
	inval := &fs.PathError{Op: "write", Path: name, Err: syscall.EINVAL}
	if len(fields) < 2 || !validDev(fields[0]) {
		return inval
	}
	dev := fields[0]
	lines, ok := f.limits[name]
	if !ok {
		cur, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		lines = strings.Split(strings.TrimSpace(string(cur)), "\n")
		if lines[0] == "" {
			lines = nil
		}
	}
	var old string
	var rest []string
	for _, l := range lines {
		if strings.HasPrefix(l, dev+" ") {
			old = l
			continue
		}
		rest = append(rest, l)
	}
	var line string
	if base == "io.max" {
		kv := map[string]string{"rbps": "max", "wbps": "max", "riops": "max", "wiops": "max"}
		for _, p := range strings.Fields(old)[min(1, len(strings.Fields(old))):] {
			k, v, _ := strings.Cut(p, "=")
			kv[k] = v
		}
		for _, p := range fields[1:] {
			k, v, ok := strings.Cut(p, "=")
			if _, known := kv[k]; !ok || !known {
				return inval
			}
			if v != "max" {
				if n, err := strconv.ParseUint(v, 10, 64); err != nil || n == 0 {
					return inval
				}
			}
			kv[k] = v
		}
		if kv["rbps"]+kv["wbps"]+kv["riops"]+kv["wiops"] != "maxmaxmaxmax" {
			line = fmt.Sprintf("%s rbps=%s wbps=%s riops=%s wiops=%s", dev, kv["rbps"], kv["wbps"], kv["riops"], kv["wiops"])
		}
	} else {
		if len(fields) != 2 {
			return inval
		}
		v, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			return inval
		}
		if v != 0 {
			line = dev + " " + fields[1]
		}
	}
	if line != "" {
		rest = append([]string{line}, rest...) // the kernel lists the newest blkg first
	}
	f.limits[name] = rest
	out := strings.Join(rest, "\n")
	if out != "" {
		out += "\n"
	}
	return f.replace(name, []byte(out))
}

// replace swaps the content of name atomically, so that a concurrent reader
// sees the old or the new content, never a half-written file, as with the
// kernel's files.
func (f *FakeCgroup) replace(name string, data []byte) error {
	tmp, err := os.CreateTemp(f.stage, "file")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

func validDev(s string) bool {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	_, e1 := strconv.ParseUint(a, 10, 32)
	_, e2 := strconv.ParseUint(b, 10, 32)
	return e1 == nil && e2 == nil
}
