package iobench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Unit is what an IO process measures: bytes per second (sequential IO),
// or IO operations per second (random IO).
type Unit string

const (
	UnitBytes Unit = "bytes"
	UnitIOPS  Unit = "iops"
)

// Mode is the direction of an IO process's IO.
type Mode string

const (
	ModeWrite Mode = "write"
	ModeRead  Mode = "read"
)

// Job is what one IO process does. It is also the IO process's command
// line (Args, ParseJob), so the two sides cannot drift apart.
type Job struct {
	// Cgroup is the cgroup directory the process moves itself into before
	// any IO ("" = stay, for tests of the IO loop itself).
	Cgroup string
	// File is where the IO goes, on a published volume.
	File string
	Mode Mode
	Unit Unit
	// Block is the size of one IO; FileSize the extent the IO wraps around.
	Block, FileSize int64
	Duration        time.Duration
	// Report is the interval of the progress lines.
	Report time.Duration
	// Latency: time every op and put percentiles into the reports.
	Latency bool
}

// Report is one progress line of an IO process (JSON on its stdout). The
// first has Ready set: the file is prepared and the process waits for "go"
// on its stdin, so that several processes start their IO together. Then
// come totals since the IO started; the last one has Done set.
type Report struct {
	Ready   bool          `json:"ready,omitempty"`
	Elapsed time.Duration `json:"elapsed"`
	Bytes   uint64        `json:"bytes"`
	Ops     uint64        `json:"ops"`
	Done    bool          `json:"done,omitempty"`
	// Waited is how long the IO thread was runnable but waiting for a CPU
	// since the IO started (the kernel's run-queue delay; see
	// iobench.Floor): budget a throttle could not hand it on a busy machine.
	Waited time.Duration `json:"waited,omitempty"`
	// With Job.Latency, completion-time percentiles: in a progress
	// report of the ops since the previous report (P50, P99), in the Done
	// report of the whole run (P50, P99, P999).
	P50  time.Duration `json:"p50,omitempty"`
	P99  time.Duration `json:"p99,omitempty"`
	P999 time.Duration `json:"p999,omitempty"`
}

// Amount is the report's total in unit u.
func (r Report) Amount(u Unit) float64 {
	if u == UnitIOPS {
		return float64(r.Ops)
	}
	return float64(r.Bytes)
}

// Args renders j as the IO process's flags.
func (j Job) Args() []string {
	return []string{
		"--cgroup=" + j.Cgroup, "--file=" + j.File, "--mode=" + string(j.Mode), "--unit=" + string(j.Unit),
		"--block=" + strconv.FormatInt(j.Block, 10), "--file-size=" + strconv.FormatInt(j.FileSize, 10),
		"--duration=" + j.Duration.String(), "--report=" + j.Report.String(), "--latency=" + strconv.FormatBool(j.Latency),
	}
}

// ParseJob reads an IO process's command line (Args), naming the flag of
// a bad value.
func ParseJob(args []string, stderr io.Writer) (Job, error) {
	var j Job
	var mode, unit string
	fs := flag.NewFlagSet("io", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&j.Cgroup, "cgroup", "", "cgroup directory to join before any IO")
	fs.StringVar(&j.File, "file", "", "file to do the IO on")
	fs.StringVar(&mode, "mode", string(ModeWrite), "read or write")
	fs.StringVar(&unit, "unit", string(UnitBytes), "bytes (sequential) or iops (random)")
	fs.Int64Var(&j.Block, "block", 1<<20, "bytes per IO")
	fs.Int64Var(&j.FileSize, "file-size", 64<<20, "bytes of the file the IO wraps around in")
	fs.DurationVar(&j.Duration, "duration", 5*time.Second, "how long")
	fs.DurationVar(&j.Report, "report", 100*time.Millisecond, "progress interval")
	fs.BoolVar(&j.Latency, "latency", false, "time every op and report latency percentiles")
	if err := fs.Parse(args); err != nil {
		return Job{}, err
	}
	j.Mode, j.Unit = Mode(mode), Unit(unit)
	switch {
	case fs.NArg() > 0:
		return Job{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	case j.File == "":
		return Job{}, errors.New("--file is required")
	case j.Mode != ModeRead && j.Mode != ModeWrite:
		return Job{}, fmt.Errorf("--mode %q is not read or write", mode)
	case j.Unit != UnitBytes && j.Unit != UnitIOPS:
		return Job{}, fmt.Errorf("--unit %q is not bytes or iops", unit)
	case j.Block < 512 || j.Block%512 != 0:
		return Job{}, fmt.Errorf("--block %d is not a positive multiple of 512 (direct IO)", j.Block)
	case j.FileSize < j.Block || j.FileSize%j.Block != 0:
		return Job{}, fmt.Errorf("--file-size %d is not a positive multiple of --block", j.FileSize)
	case j.Duration <= 0 || j.Report <= 0:
		return Job{}, errors.New("--duration and --report must be positive")
	}
	return j, nil
}
