package iobench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// RunIO is the IO process (`csi-blkio demo-io`, or a test binary started
// again), a re-exec so that it can sit in a container cgroup of its own, as
// a container's processes do (cgroup v1 throttles only the tasks directly
// in a limited cgroup). It joins its cgroup before touching the file, prepares the file,
// then does direct IO for the job's duration, printing a Report line every
// Report interval and a last one with Done.
func RunIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	j, err := ParseJob(args, stderr)
	if err != nil {
		return err
	}
	if j.Cgroup != "" {
		if err := joinCgroup(j.Cgroup); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(j.File, os.O_RDWR|os.O_CREATE|unix.O_DIRECT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	buf, err := alignedBuffer(j.Block)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Munmap(buf) }() // the process exits right after
	if err := prepareFile(fd, j); err != nil {
		return fmt.Errorf("prepare %s: %w", j.File, err)
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(Report{Ready: true}); err != nil {
		return err
	}
	if err := awaitGo(ctx, stdin); err != nil {
		return err
	}
	return ioLoop(ctx, fd, j, buf, enc)
}

// awaitGo blocks until the line "go" arrives on r (or ctx is done).
func awaitGo(ctx context.Context, r io.Reader) error {
	got := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "go" {
			err = fmt.Errorf("expected \"go\" on stdin, got %q", line)
		}
		got <- err
	}()
	select {
	case err := <-got:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// joinCgroup moves this process (all its threads) into dir and checks
// that the kernel put it there.
func joinCgroup(dir string) error {
	pid := strconv.Itoa(os.Getpid())
	procs := filepath.Join(dir, "cgroup.procs")
	if err := os.WriteFile(procs, []byte(pid), 0); err != nil {
		return fmt.Errorf("join cgroup %s: %w", dir, err)
	}
	b, err := os.ReadFile(procs)
	if err != nil {
		return err
	}
	if !slices.Contains(strings.Fields(string(b)), pid) {
		return fmt.Errorf("join cgroup %s: pid %s is not in its cgroup.procs", dir, pid)
	}
	return nil
}

// prepareFile makes the extent the IO runs on: for writes it is allocated
// (the writes then overwrite it, no block allocation in the measurement);
// for reads it is written once, in large blocks whatever the job's block
// size, since reading never-written blocks of a file costs the filesystem
// no disk IO at all.
func prepareFile(fd int, j Job) error {
	if j.Mode == ModeWrite {
		if err := unix.Fallocate(fd, 0, 0, j.FileSize); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
			return err
		}
		return nil
	}
	chunk := min(j.FileSize, 1<<20)
	buf, err := alignedBuffer(chunk)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Munmap(buf) }() // the process exits right after
	for off := int64(0); off < j.FileSize; off += chunk {
		if _, err := unix.Pwrite(fd, buf[:min(chunk, j.FileSize-off)], off); err != nil {
			return err
		}
	}
	return nil
}

// alignedBuffer returns n bytes at a page boundary, as direct IO needs (an
// anonymous mapping), filled with a pattern: not zeros, so nothing along
// the way may shortcut the IO. Release it with unix.Munmap.
func alignedBuffer(n int64) ([]byte, error) {
	buf, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("allocate an aligned buffer: %w", err)
	}
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	return buf, nil
}

// ioLoop does one IO at a time (queue depth 1, as dd does) until the
// duration is up, ctx is done or the parent went away. With j.Latency it
// times every op: each report carries the percentiles of the ops since the
// previous one, the last report those of the whole run.
func ioLoop(ctx context.Context, fd int, j Job, buf []byte, enc *json.Encoder) error {
	// One thread does all the IO, so that its run-queue delay is the
	// writer's: locked for the loop's length.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	waited := runDelaySince()
	ppid := os.Getppid()
	blocks := j.FileSize / j.Block
	var r Report
	var window, all Hist
	start := time.Now()
	next := j.Report
	var off int64
	for r.Elapsed < j.Duration {
		if err := ctx.Err(); err != nil {
			return err
		}
		if j.Unit == UnitIOPS {
			off = rand.Int64N(blocks) * j.Block
		}
		var n int
		var err error
		began := time.Now()
		if j.Mode == ModeWrite {
			n, err = unix.Pwrite(fd, buf, off)
		} else {
			n, err = unix.Pread(fd, buf, off)
		}
		if err != nil {
			return fmt.Errorf("%s at offset %d: %w", j.Mode, off, err)
		}
		if j.Latency {
			took := time.Since(began)
			window.Add(took)
			all.Add(took)
		}
		r.Bytes += uint64(n)
		r.Ops++
		if j.Unit == UnitBytes {
			off = (off + j.Block) % (blocks * j.Block)
		}
		r.Elapsed = time.Since(start)
		if r.Elapsed >= next {
			r.Waited = waited()
			// Orphaned (its parent was killed): stop rather than run on.
			if os.Getppid() != ppid {
				return errors.New("the process that started this IO process is gone")
			}
			if j.Latency {
				r.P50, r.P99 = window.Quantile(0.5), window.Quantile(0.99)
				window = Hist{}
			}
			if err := enc.Encode(r); err != nil {
				return err
			}
			next = r.Elapsed.Truncate(j.Report) + j.Report
		}
	}
	r.Done = true
	r.Waited = waited()
	if j.Latency {
		r.P50, r.P99, r.P999 = all.Quantile(0.5), all.Quantile(0.99), all.Quantile(0.999)
	}
	return enc.Encode(r)
}

// runDelaySince returns a function giving the calling thread's run-queue
// delay since now. Where the kernel does not account it (no schedstat), it
// gives 0: the verdict's floor then stays where a quiet CPU puts it.
func runDelaySince() func() time.Duration {
	base, err := ThreadRunDelay()
	if err != nil {
		return func() time.Duration { return 0 }
	}
	return func() time.Duration {
		now, err := ThreadRunDelay()
		if err != nil {
			return 0
		}
		return now - base
	}
}
