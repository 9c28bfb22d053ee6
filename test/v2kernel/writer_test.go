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

// writerEnv carries a writeJob to a copy of the test binary started as a
// writer process (see TestMain).
const writerEnv = "CSI_BLKIO_V2KERNEL_WRITER"

// writeJob is what a writer process writes.
type writeJob struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	Block  int    `json:"block"`  // bytes per write(2)
	Direct bool   `json:"direct"` // O_DIRECT
	Fsync  bool   `json:"fsync"`  // fsync before the clock stops
	Create bool   `json:"create"` // create the file (a file on a filesystem, not a device)
}

// writeResult is what a writer process reports on stdout.
type writeResult struct {
	Cgroup  string  `json:"cgroup"` // its own cgroup, from /proc/self/cgroup
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"` // from the first write to the end of the last (and the fsync)
}

func (r writeResult) MiBPerSecond() float64 { return float64(r.Bytes) / (1 << 20) / r.Seconds }

func TestMain(m *testing.M) {
	if job := os.Getenv(writerEnv); job != "" {
		os.Exit(writerMain(job))
	}
	os.Exit(m.Run())
}

// runWriter runs job in a new process that starts inside the cgroup dir
// (clone3 CLONE_INTO_CGROUP), the way a container's process lives in its
// leaf from its first instruction, and returns its report.
func runWriter(t *testing.T, cgroupDir string, job writeJob) writeResult {
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
	cmd.Env = append(os.Environ(), writerEnv+"="+string(spec))
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("writer in %s: %v: %s", cgroupDir, err, stderr.String())
	}
	var res writeResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("writer report %q: %v", out, err)
	}
	if want := strings.TrimPrefix(cgroupDir, cgroupRoot); res.Cgroup != want {
		t.Fatalf("the writer ran in cgroup %q, want %q", res.Cgroup, want)
	}
	return res
}

// writerMain is the writer process: it writes the job and prints a
// writeResult as JSON.
func writerMain(spec string) int {
	var job writeJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	res, err := write(job)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

func write(job writeJob) (writeResult, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return writeResult{}, err
	}
	flags := os.O_WRONLY
	if job.Direct {
		flags |= unix.O_DIRECT
	}
	if job.Create {
		flags |= os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(job.Path, flags, 0o600)
	if err != nil {
		return writeResult{}, err
	}
	defer f.Close()
	// An anonymous mapping is page aligned, as O_DIRECT requires.
	buf, err := unix.Mmap(-1, 0, job.Block, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return writeResult{}, err
	}
	defer unix.Munmap(buf)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	start := time.Now()
	var written int64
	for written < job.Bytes {
		n, err := f.Write(buf[:min(int64(len(buf)), job.Bytes-written)])
		written += int64(n)
		if err != nil {
			return writeResult{}, fmt.Errorf("write %s at %d: %w", job.Path, written, err)
		}
	}
	if job.Fsync {
		if err := f.Sync(); err != nil {
			return writeResult{}, err
		}
	}
	return writeResult{
		// cgroup v2 has one line: "0::/path".
		Cgroup:  strings.TrimPrefix(strings.TrimSpace(string(self)), "0::"),
		Bytes:   written,
		Seconds: time.Since(start).Seconds(),
	}, nil
}
