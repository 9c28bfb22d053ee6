package iobench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
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
func readRunDelay(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("%s: %q is not \"<on cpu> <waiting> <slices>\"", path, b)
	}
	ns, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
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
