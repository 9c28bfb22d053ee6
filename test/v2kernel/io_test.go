//go:build v2kernel && linux

package v2kernel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ioJobEnv carries an ioJob to a copy of the test binary started as an IO
// process (see TestMain).
const ioJobEnv = "CSI_BLKIO_V2KERNEL_IO_JOB"

// ioJob is what an IO process does: write (or read) Bytes in Block sized
// calls from the start of Path.
type ioJob struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	Block  int    `json:"block"`  // bytes per read(2)/write(2)
	Read   bool   `json:"read"`   // read instead of write
	Direct bool   `json:"direct"` // O_DIRECT
	Fsync  bool   `json:"fsync"`  // writes: fsync before the clock stops
	Create bool   `json:"create"` // writes: create the file (on a filesystem, not a device)
}

// ioResult is what an IO process reports on stdout.
type ioResult struct {
	Cgroup  string  `json:"cgroup"` // its own cgroup, from /proc/self/cgroup
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"` // from the first call to the end of the last (and the fsync)
}

func (r ioResult) MiBPerSecond() float64 { return float64(r.Bytes) / (1 << 20) / r.Seconds }

func TestMain(m *testing.M) {
	if job := os.Getenv(ioJobEnv); job != "" {
		os.Exit(ioMain(job))
	}
	os.Exit(m.Run())
}

// runIO runs job in a new process that starts inside the cgroup dir
// (clone3 CLONE_INTO_CGROUP), the way a container's process lives in its
// leaf from its first instruction, and returns its report.
func runIO(t *testing.T, cgroupDir string, job ioJob) ioResult {
	t.Helper()
	dir, err := os.Open(cgroupDir)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	spec, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), ioJobEnv+"="+string(spec))
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("IO process in %s: %v: %s", cgroupDir, err, stderr.String())
	}
	var res ioResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("IO process report %q: %v", out, err)
	}
	if want := strings.TrimPrefix(cgroupDir, cgroupRoot); res.Cgroup != want {
		t.Fatalf("the IO process ran in cgroup %q, want %q", res.Cgroup, want)
	}
	return res
}

// ioMain is the IO process: it does the job and prints an ioResult as JSON.
func ioMain(spec string) int {
	var job ioJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	res, err := doIO(job)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

func doIO(job ioJob) (ioResult, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ioResult{}, err
	}
	flags := os.O_WRONLY
	if job.Read {
		flags = os.O_RDONLY
	}
	if job.Direct {
		flags |= unix.O_DIRECT
	}
	if job.Create {
		flags |= os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(job.Path, flags, 0o600)
	if err != nil {
		return ioResult{}, err
	}
	defer f.Close()
	// An anonymous mapping is page aligned, as O_DIRECT requires.
	buf, err := unix.Mmap(-1, 0, job.Block, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return ioResult{}, err
	}
	defer unix.Munmap(buf)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	op, verb := f.Write, "write"
	if job.Read {
		op, verb = f.Read, "read"
	}
	start := time.Now()
	var done int64
	for done < job.Bytes {
		n, err := op(buf[:min(int64(len(buf)), job.Bytes-done)])
		done += int64(n)
		if err != nil {
			return ioResult{}, fmt.Errorf("%s %s at %d: %w", verb, job.Path, done, err)
		}
	}
	if job.Fsync && !job.Read {
		if err := f.Sync(); err != nil {
			return ioResult{}, err
		}
	}
	return ioResult{
		// cgroup v2 has one line: "0::/path".
		Cgroup:  strings.TrimPrefix(strings.TrimSpace(string(self)), "0::"),
		Bytes:   done,
		Seconds: time.Since(start).Seconds(),
	}, nil
}

// lowerBound is the least time that writing total bytes under a bytes per
// second limit can take, with room for blk-throttle letting a first 100 ms
// slice through at once and for the emulated guest's clock: 0.8 of the
// ideal. Under emulation only lower bounds on time are sound.
func lowerBound(total, limit uint64) time.Duration {
	return time.Duration(float64(total) / float64(limit) * float64(time.Second) * 0.8)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// limitBelow is a bytes per second limit of a quarter of the rate r
// measured unthrottled a moment before, in 64 KiB/s steps, at most 8 MiB/s
// (a higher limit only makes the writes longer). The emulated disk's speed
// follows the host's load, so a fixed limit either takes minutes or is
// faster than the disk; derived in the same run, a throttled write that
// ran at r's rate takes a quarter of the time the limit allows, which
// lowerBound (0.8 of it) tells apart even if the host's load changes the
// disk's speed threefold between the two writes.
func limitBelow(t *testing.T, r ioResult) uint64 {
	t.Helper()
	const step, most = 64 << 10, 8 << 20
	quarter := uint64(float64(r.Bytes)/r.Seconds/4) / step * step
	if quarter < step {
		t.Fatalf("unthrottled the emulated disk wrote %.0f KiB/s: too slow to measure a limit below it", float64(r.Bytes)/r.Seconds/1024)
	}
	return min(quarter, most)
}
