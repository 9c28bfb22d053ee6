package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// RunIO is the IO process (`csi-blkio demo-io`), a re-exec of the binary
// so that it can sit in a container cgroup of its own, as a container's
// processes do (cgroup v1 throttles only the tasks directly in a limited
// cgroup). It joins its cgroup before touching the file, prepares the file,
// then does direct IO for the job's duration, printing a Report line every
// Report interval and a last one with Done.
func RunIO(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	j, err := parseIOJob(args, stderr)
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
	// Direct IO needs an aligned buffer; an anonymous mapping is page aligned.
	buf, err := unix.Mmap(-1, 0, int(j.Block), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("allocate an aligned buffer: %w", err)
	}
	defer unix.Munmap(buf)
	for i := range buf {
		buf[i] = byte(i*7 + 1) // not zeros: nothing may shortcut the IO
	}
	if err := prepareFile(fd, j, buf); err != nil {
		return fmt.Errorf("prepare %s: %w", j.File, err)
	}
	return ioLoop(ctx, fd, j, buf, json.NewEncoder(stdout))
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
// for reads it is written once, since reading never-written blocks of a
// file costs the filesystem no disk IO at all.
func prepareFile(fd int, j IOJob, buf []byte) error {
	if j.Mode == ModeWrite {
		if err := unix.Fallocate(fd, 0, 0, j.FileSize); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
			return err
		}
		return nil
	}
	for off := int64(0); off < j.FileSize; off += j.Block {
		if _, err := unix.Pwrite(fd, buf, off); err != nil {
			return err
		}
	}
	return nil
}

// ioLoop does one IO at a time (queue depth 1, as dd does) until the
// duration is up, ctx is done or the parent went away.
func ioLoop(ctx context.Context, fd int, j IOJob, buf []byte, enc *json.Encoder) error {
	ppid := os.Getppid()
	blocks := j.FileSize / j.Block
	var r Report
	start := time.Now()
	next := j.Report
	if err := enc.Encode(r); err != nil { // the IO starts now
		return err
	}
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
		if j.Mode == ModeWrite {
			n, err = unix.Pwrite(fd, buf, off)
		} else {
			n, err = unix.Pread(fd, buf, off)
		}
		if err != nil {
			return fmt.Errorf("%s at offset %d: %w", j.Mode, off, err)
		}
		r.Bytes += uint64(n)
		r.Ops++
		if j.Unit == UnitBytes {
			off = (off + j.Block) % (blocks * j.Block)
		}
		r.Elapsed = time.Since(start)
		if r.Elapsed >= next {
			// Orphaned (the demo was killed): stop rather than run on.
			if os.Getppid() != ppid {
				return errors.New("the demo that started this IO process is gone")
			}
			if err := enc.Encode(r); err != nil {
				return err
			}
			next = (r.Elapsed/j.Report + 1) * j.Report
		}
	}
	r.Done = true
	return enc.Encode(r)
}
