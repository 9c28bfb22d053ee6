package throttle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// BenchmarkEnsure: the cost of creating one group (Ensure of a new key:
// pod lookup by its inotify watch, four limit writes, a stat for children) with n
// groups already in the table, on the real v1 blkio hierarchy and a real
// loop device. It should not grow with n.
//
// Its floor is the kernel's part alone: the four limit lines Ensure writes
// for such a group, written by hand with the same write(2) per file. Both
// go into a pod cgroup made for the call (untimed), as on a node, where
// kubelet makes the pod cgroup just before it mounts the pod's volumes:
// the first limit for a device in a cgroup makes the kernel create that
// cgroup's throttle group for the device's queue, and the first open of
// each file of a new cgroup looks it up afresh; a floor that writes one
// warm cgroup over and over would leave that work to Ensure alone. The
// floor is taken in every iteration beside the call, in another order each
// time (floor-p50-us, floor-p99-us), so that the ratio of
// Ensure's p99 to its floor compares two figures of the same seconds on a
// machine whose load moves from one second to the next.
//
// A second floor, syscalls-*, is every system call such an Ensure makes,
// made by hand in a third fresh cgroup: the inotify watch that finds the
// pod cgroup, the four writes, the stat for children. What Ensure
// costs beyond it is the table and the Go code around the calls.
//
// Every call is also timed in CPU (the calling thread's CPU clock:
// cpu-p50-us, cpu-p99-us and floor-cpu-*): on a loaded machine the wall
// time of a call is mostly waiting for a CPU, which says more about the
// neighbours than about the code; the CPU time is the work the call does.
func BenchmarkEnsure(b *testing.B) {
	b.Run("v1/bare-writes", benchBareLimitWrites)
	for _, n := range []int{10, 1000, 10000} {
		kf := newKernelFixture(b)
		for i := range n {
			kf.podDir(b, testutil.PodUID(i))
			k, s := kf.spec(testutil.PodUID(i), ScopePod)
			ensure(b, kf.table, k, s)
		}
		b.Run(fmt.Sprintf("v1/groups=%d", n), func(b *testing.B) {
			// Each call is timed too, for the p99 the publish path cares
			// about (hack/bench quotes it).
			runtime.LockOSThread() // the thread's CPU clock is this goroutine's
			defer runtime.UnlockOSThread()
			var took, floor, syscalls timings
			teardown := cgroupTeardown{table: kf.table}
			ino := newBenchInotify(b)
			// The benchmark's timer is not stopped and started around
			// each call: both read the runtime's memory statistics,
			// which stops the world and empties every allocation cache,
			// so that each call would start by refilling them, a cost no
			// call on the publish path pays and its floors (which do
			// not allocate) would not share. ns/op is the mean of the
			// calls' own wall times instead.
			for i := 0; i < b.N; i++ {
				uid := testutil.PodUID(n + 3*i)
				pod := kf.podDir(b, uid)
				bare, bare2 := kf.podDir(b, testutil.PodUID(n+3*i+1)), kf.podDir(b, testutil.PodUID(n+3*i+2))
				k, s := kf.spec(uid, ScopePod)
				lines := V1Entries(kf.dev, s.Limits)
				// The three in another order every iteration.
				steps := []func(){
					func() {
						took.add(timeCall(b, func() {
							if _, err := kf.table.Ensure(context.Background(), k, s); err != nil {
								b.Fatal(err)
							}
						}))
					},
					func() { floor.add(timeLimitLines(b, bare, lines)) },
					func() { syscalls.add(ino.timeEnsureSyscalls(b, bare2, lines)) },
				}
				for j := range steps {
					steps[(i+j)%len(steps)]()
				}
				teardown.add(b, &k, pod, bare, bare2)
			}
			teardown.flush(b)
			if kf.table.Len() != n {
				b.Fatalf("%d groups, want %d", kf.table.Len(), n)
			}
			b.ReportMetric(float64(took.meanWall().Nanoseconds()), "ns/op")
			took.report(b, "")
			floor.report(b, "floor-")
			syscalls.report(b, "syscalls-")
		})
	}
}

// benchInotify is an inotify instance of the benchmark's own, for the
// watches its syscalls floor adds and removes.
type benchInotify struct{ fd int }

func newBenchInotify(b *testing.B) benchInotify {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	return benchInotify{fd}
}

// timeEnsureSyscalls times, by hand, every system call an Ensure of a new
// pod-scope group makes on v1 when its pod cgroup is the first candidate
// and has no child yet: the inotify watch that finds the pod cgroup, the
// four limit writes through one descriptor of the cgroup (as
// OSFS.WriteFiles makes them), the statx of its link count (which says
// whether it has children). Its ratio to Ensure is the cost of the table
// and of the Go code around the calls; the watch is removed afterwards,
// untimed.
func (ino benchInotify) timeEnsureSyscalls(b *testing.B, pod string, es [4]V1Entry) (wall, cpu, queued time.Duration) {
	var wd int
	ll := newLimitLines(pod, es)
	wall, cpu, queued = timeCall(b, func() {
		var err error
		if wd, err = addWatch(ino.fd, pod, watchMask); err != nil {
			b.Fatal(err)
		}
		ll.writeAt(b)
		if _, err := statxLinks(pod); err != nil {
			b.Fatal(err)
		}
	})
	if _, err := unix.InotifyRmWatch(ino.fd, uint32(wd)); err != nil {
		b.Fatal(err)
	}
	return wall, cpu, queued
}

// BenchmarkEnsureTableOnly is BenchmarkEnsure without file IO (a v2
// backend on testutil.NullCgroupFS): the table's own cost per Ensure with n
// groups in it — map, locks, entry refcounts, status snapshot.
func BenchmarkEnsureTableOnly(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		tb := newTestTable(b, Options{Backend: NewV2("/null", testutil.NullCgroupFS{})})
		for i := range n {
			k, s := podSpec(testutil.PodUID(i), limit8M, ScopePod)
			ensure(b, tb, k, s)
		}
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
			// Each Ensure is timed on its own and ns/op is their mean:
			// stopping the benchmark's timer around the Remove would stop
			// the world and empty the allocation caches every iteration
			// (see BenchmarkEnsure), a cost of the harness, not the table.
			var took time.Duration
			for i := 0; i < b.N; i++ {
				k, s := podSpec(testutil.PodUID(n+i%100), limit8M, ScopePod)
				k.VolumeID = fmt.Sprint("bench-", i)
				start := time.Now()
				if _, err := tb.Ensure(context.Background(), k, s); err != nil {
					b.Fatal(err)
				}
				took += time.Since(start)
				tb.Remove(context.Background(), k)
			}
			b.ReportMetric(float64(took.Nanoseconds())/float64(b.N), "ns/op")
		})
	}
}

// BenchmarkV1ContainerLimitWindow measures, on the real v1 hierarchy, the
// time from mkdir of a container cgroup below a watched pod cgroup until
// its limit is readable in the container's write_bps_device: the window in
// which a new container is unthrottled. Reported as p50/p99 over 100
// containers per iteration (run with -benchtime=1x).
func BenchmarkV1ContainerLimitWindow(b *testing.B) {
	kf := newKernelFixture(b)
	pod := kf.podDir(b, testUID)
	k, s := kf.spec(testUID, ScopePod)
	ensure(b, kf.table, k, s)
	line := []byte(kf.line() + "\n")
	var windows []time.Duration
	for i := 0; i < b.N; i++ {
		for c := range 100 {
			ctr := filepath.Join(pod, fmt.Sprint("ctr-", i, "-", c))
			file := filepath.Join(ctr, string(V1WriteBPS))
			start := time.Now()
			if err := os.Mkdir(ctr, 0o755); err != nil {
				b.Fatal(err)
			}
			for {
				got, err := os.ReadFile(file)
				if err != nil {
					b.Fatal(err)
				}
				if string(got) == string(line) {
					break
				}
				if time.Since(start) > 10*time.Second {
					b.Fatalf("no limit on %s after 10 s", ctr)
				}
			}
			windows = append(windows, time.Since(start))
			b.StopTimer()
			if err := os.Remove(ctr); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	slices.Sort(windows)
	q := func(p float64) float64 {
		return float64(windows[int(p*float64(len(windows)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(len(windows)), "containers")
}

func benchBareLimitWrites(b *testing.B) {
	kf := newKernelFixture(b)
	_, s := kf.spec(testutil.PodUID(0), ScopePod)
	set := V1Entries(kf.dev, s.Limits)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var took timings
	var teardown cgroupTeardown
	for i := 0; i < b.N; i++ {
		pod := kf.podDir(b, testutil.PodUID(i)) // fresh, as in BenchmarkEnsure
		took.add(timeLimitLines(b, pod, set))
		teardown.add(b, nil, pod)
	}
	teardown.flush(b)
	b.ReportMetric(float64(took.meanWall().Nanoseconds()), "ns/op")
	took.report(b, "")
}

// cgroupTeardown removes the groups a benchmark made (from table) and
// their empty pod cgroups, so that thousands of iterations leave neither
// behind. It removes them a batch at a time and then lets the kernel
// finish: removing a cgroup queues work that kworkers run an RCU grace
// period later (the css's release and free, the throttle groups' free), and
// removing a group's inotify watch wakes the table's watcher with the
// watch's last event. Done one by one between iterations, that work
// preempted the timed calls of later iterations at random (perf sched: the
// benchmark's thread preempted some 3,700 times by one kworker in 3,000
// iterations), so the wall-time p99 of a call and of its floor measured
// which of them the benchmark's own clean-up happened to hit. A table of n
// groups holds n to n+99 of them while a batch is open.
type cgroupTeardown struct {
	table *Table
	keys  []Key
	dirs  []string
}

const (
	teardownBatch  = 100                   // iterations between clean-ups
	teardownSettle = 50 * time.Millisecond // for the kernel's deferred work
)

// add queues key (nil: none) and dirs; every teardownBatch keys, or as
// many cgroups, it flushes.
func (c *cgroupTeardown) add(b *testing.B, key *Key, dirs ...string) {
	if key != nil {
		c.keys = append(c.keys, *key)
	}
	c.dirs = append(c.dirs, dirs...)
	if len(c.keys) >= teardownBatch || len(c.dirs) >= 3*teardownBatch {
		c.flush(b)
	}
}

func (c *cgroupTeardown) flush(b *testing.B) {
	for _, k := range c.keys {
		if err := c.table.Remove(context.Background(), k); err != nil {
			b.Fatal(err)
		}
	}
	for _, d := range c.dirs {
		if err := os.Remove(d); err != nil {
			b.Fatal(err)
		}
	}
	c.keys, c.dirs = c.keys[:0], c.dirs[:0]
	time.Sleep(teardownSettle)
}

// limitLines are the four v1 limit lines of one cgroup and the paths of
// their files, put together before a floor's timed writes: the floor times
// the system calls alone, which allocate nothing (openAt), so that what
// Ensure allocates counts against it and not against its floor as well.
type limitLines struct {
	dir   string
	paths [4]string
	lines [4][]byte
}

func newLimitLines(dir string, es [4]V1Entry) limitLines {
	ll := limitLines{dir: dir}
	for i, e := range es {
		ll.paths[i], ll.lines[i] = filepath.Join(dir, string(V1Knobs[i])), []byte(e.String())
	}
	return ll
}

// write writes the four lines, one write(2) per file, each opened by its
// full path.
func (ll *limitLines) write(b *testing.B) {
	for i := range ll.paths {
		if err := (OSFS{}).WriteFile(ll.paths[i], ll.lines[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// writeAt writes the four lines as write does, each file opened relative
// to one O_PATH descriptor of the cgroup.
func (ll *limitLines) writeAt(b *testing.B) {
	dfd, err := openAt(unix.AT_FDCWD, ll.dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(dfd)
	for i, line := range ll.lines {
		fd, err := openAt(dfd, string(V1Knobs[i]), unix.O_WRONLY)
		if err != nil {
			b.Fatal(err)
		}
		_, err = unix.Write(fd, line)
		unix.Close(fd)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// timeLimitLines writes es into cgroup pod as the floor of BenchmarkEnsure,
// timed as timeCall times.
func timeLimitLines(b *testing.B, pod string, es [4]V1Entry) (wall, cpu, queued time.Duration) {
	ll := newLimitLines(pod, es)
	return timeCall(b, func() { ll.write(b) })
}

// timeCall runs f and returns its wall time, the thread's CPU time over it
// and the thread's wait in the run queue (runnable, without a CPU) around
// it. The caller holds its thread (runtime.LockOSThread).
func timeCall(b *testing.B, f func()) (wall, cpu, queued time.Duration) {
	q0 := testutil.ThreadRunDelay(b)
	start, cpu0 := time.Now(), testutil.ThreadCPU(b)
	f()
	wall, cpu = time.Since(start), testutil.ThreadCPU(b)-cpu0
	return wall, cpu, testutil.ThreadRunDelay(b) - q0
}

// timings are the wall and CPU times of a benchmark's calls, and their wall
// times less the time the thread waited for a CPU.
type timings struct{ wall, cpu, unqueued []time.Duration }

func (t *timings) add(wall, cpu, queued time.Duration) {
	t.wall, t.cpu = append(t.wall, wall), append(t.cpu, cpu)
	t.unqueued = append(t.unqueued, max(wall-queued, 0))
}

// meanWall is the mean wall time of the calls.
func (t *timings) meanWall() time.Duration {
	var sum time.Duration
	for _, w := range t.wall {
		sum += w
	}
	return sum / time.Duration(len(t.wall))
}

// report reports the quantiles of all three: PREFIXp50-us, PREFIXp99-us
// (wall), PREFIXcpu-p50-us, PREFIXcpu-p99-us and PREFIXunqueued-p50-us,
// PREFIXunqueued-p99-us.
func (t *timings) report(b *testing.B, prefix string) {
	reportQuantiles(b, t.wall, prefix)
	reportQuantiles(b, t.cpu, prefix+"cpu-")
	reportQuantiles(b, t.unqueued, prefix+"unqueued-")
}

// reportQuantiles reports the p50 and p99 of took in microseconds, as
// PREFIXp50-us and PREFIXp99-us.
func reportQuantiles(b *testing.B, took []time.Duration, prefix string) {
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2])/1e3, prefix+"p50-us")
	b.ReportMetric(float64(took[(len(took)-1)*99/100])/1e3, prefix+"p99-us")
}
