package iobench

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// A throttled writer that keeps one IO in flight gets its whole budget only
// while it is on a CPU whenever an IO completes: blk-throttle hands out
// bytes over time, and the time a writer spends waiting for a CPU before it
// can submit its next IO is budget the kernel does not keep for it (it
// carries unused budget at most to the end of its current slice). On a
// loaded machine that wait is the gap between the limit and what the writer
// reaches. The kernel accounts it per task: the second field of
// /proc/<pid>/task/<tid>/schedstat is the time the task was runnable but
// waiting on a run queue. Tests and the demo read it over the IO window and
// lower their floor by that share of the window, instead of assuming a
// quiet CPU.

// ThreadRunDelay is how long the calling OS thread has waited on a run
// queue since it began. The caller must be locked to its thread
// (runtime.LockOSThread) for the figure to be its own.
func ThreadRunDelay() (time.Duration, error) {
	return readRunDelay("/proc/thread-self/schedstat")
}

// ThreadCPU is the calling OS thread's CPU time so far, user and system
// (CLOCK_THREAD_CPUTIME_ID). The caller must be locked to its thread, as for
// ThreadRunDelay.
func ThreadCPU() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, fmt.Errorf("the thread's CPU clock: %w", err)
	}
	return time.Duration(ts.Nano()), nil
}

// TaskRunDelay is how long the task pid (a process's main thread) has
// waited on a run queue since it began.
func TaskRunDelay(pid int) (time.Duration, error) {
	return readRunDelay(fmt.Sprintf("/proc/%d/schedstat", pid))
}

// readRunDelay parses a schedstat file: "<ns on cpu> <ns waiting> <slices>".
// It reads through raw system calls into a buffer on the stack, so that it
// allocates only the path's bytes for open(2): benchmarks read it beside
// every timed call, and os.ReadFile there (an os.File, its finalizer, a
// buffer: ~1.8 KB) made most of what such a benchmark allocated, more than
// the code it timed.
func readRunDelay(path string) (time.Duration, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var buf [96]byte // three decimal uint64s and two spaces fit in 62
	n, err := unix.Read(fd, buf[:])
	unix.Close(fd)
	if err != nil {
		return 0, &os.PathError{Op: "read", Path: path, Err: err}
	}
	b := buf[:max(n, 0)]
	// The second field: skip the first and the spaces after it.
	i := 0
	for i < len(b) && b[i] != ' ' {
		i++
	}
	for i < len(b) && b[i] == ' ' {
		i++
	}
	var ns int64
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		ns = ns*10 + int64(b[i]-'0')
		digits++
	}
	if digits == 0 || digits > 18 || (i < len(b) && b[i] != ' ' && b[i] != '\n') {
		return 0, fmt.Errorf("%s: %q is not \"<on cpu> <waiting> <slices>\"", path, string(b)) // a copy: buf stays on the stack
	}
	return time.Duration(ns), nil
}

// Floor lowers a ratio floor meant for a writer that was always on a CPU
// when it needed one by the share of elapsed it waited for a CPU instead:
// floor * (1 - waited/elapsed), never below 0. The kernel could not hand
// out the budget of that wait, so a bound that ignored it would measure the
// machine's load, not the limit.
func Floor(floor float64, elapsed, waited time.Duration) float64 {
	if elapsed <= 0 {
		return floor
	}
	return floor * max(0, 1-float64(waited)/float64(elapsed))
}
