package testutil

import (
	"bytes"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

// Run is how a command ran: its output (stdout and stderr), how long it
// ran, and how long of that its main thread waited for a CPU.
type Run struct {
	Out     []byte
	Elapsed time.Duration
	// Waited is the kernel's run-queue delay of the process's main thread
	// (a dd, or the shell that exec'd it) over its whole life: time it
	// could have submitted IO but had no CPU. A throttled writer's floor
	// drops by this share of Elapsed (iobench.Floor).
	Waited time.Duration
}

// RunWaited runs cmd to its end, as CombinedOutput does, and reads the
// process's run-queue delay between its exit and its reaping (waitid with
// WNOWAIT leaves it a zombie whose schedstat still reads), so that the
// figure covers all of its run.
func RunWaited(cmd *exec.Cmd) (Run, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Run{}, err
	}
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			if err != nil {
				_ = cmd.Wait()
				return Run{}, fmt.Errorf("waitid %d: %w", cmd.Process.Pid, err)
			}
			break
		}
	}
	r := Run{Elapsed: time.Since(start)}
	// Without schedstat the wait reads 0: the floor stays where a quiet
	// CPU puts it.
	r.Waited, _ = iobench.TaskRunDelay(cmd.Process.Pid)
	err := cmd.Wait()
	r.Out = out.Bytes()
	return r, err
}

// ThreadRunDelay is the calling thread's time runnable but waiting for a CPU
// so far, and ThreadCPU its CPU time (user and system), for benchmarks that
// time single calls; tb fails on a read error. The caller holds its thread
// with runtime.LockOSThread.
func ThreadRunDelay(tb testing.TB) time.Duration { return mustDuration(tb)(iobench.ThreadRunDelay()) }
func ThreadCPU(tb testing.TB) time.Duration      { return mustDuration(tb)(iobench.ThreadCPU()) }

// mustDuration ends the test on a failed clock read.
func mustDuration(tb testing.TB) func(time.Duration, error) time.Duration {
	return func(d time.Duration, err error) time.Duration {
		if err != nil {
			tb.Fatal(err)
		}
		return d
	}
}
