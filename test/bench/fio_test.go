//go:build bench

package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// job is one fio job on one existing, prefilled file (fio never lays out a
// file here: that would write through the limits being measured).
type job struct {
	rw       string // read, write, randread, randwrite
	bs       string // 4k, 1M
	depth    int    // iodepth (libaio)
	engine   string // libaio unless set
	buffered bool   // page-cache IO instead of O_DIRECT
	size     int64  // bytes of the file the job uses
	runtime  time.Duration
	ramp     time.Duration // excluded from the figures
	extra    []string
}

// fioResult is what fio measured after the ramp, both directions summed.
type fioResult struct {
	bw       float64 // bytes/s
	iops     float64
	bytes    int64
	p50, p99 time.Duration // completion latency of the job's direction
	p999     time.Duration
}

// fioRun is a fio process running in a cgroup.
type fioRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    string
	stderr *os.File
}

// startFio starts j on file from inside cgroup (an absolute cgroup dir), as
// a container's process would run.
func startFio(t *testing.T, cgroup, file string, j job) *fioRun {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "fio.json")
	engine := j.engine
	if engine == "" {
		engine = "libaio"
	}
	direct := "1"
	if j.buffered {
		direct = "0"
	}
	args := []string{
		"--name=bench", "--filename=" + file, "--rw=" + j.rw, "--bs=" + j.bs,
		"--ioengine=" + engine, "--iodepth=" + strconv.Itoa(max(j.depth, 1)), "--direct=" + direct,
		"--size=" + strconv.FormatInt(j.size, 10), "--time_based",
		fmt.Sprintf("--runtime=%dms", j.runtime.Milliseconds()), fmt.Sprintf("--ramp_time=%dms", j.ramp.Milliseconds()),
		"--randrepeat=0", "--norandommap", "--percentile_list=50:99:99.9",
		"--output-format=json", "--output=" + out,
	}
	args = append(args, j.extra...)
	cmd := testutil.CommandInCgroup(t, cgroup, "fio", args...)
	stderr, err := os.Create(filepath.Join(dir, "fio.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start fio: %v", err)
	}
	return &fioRun{t: t, cmd: cmd, out: out, stderr: stderr}
}

// runFio runs j to its end and returns what it measured.
func runFio(t *testing.T, cgroup, file string, j job) fioResult {
	t.Helper()
	return startFio(t, cgroup, file, j).wait()
}

func (r *fioRun) wait() fioResult {
	t := r.t
	t.Helper()
	err := r.cmd.Wait()
	r.stderr.Close()
	if err != nil {
		msg, _ := os.ReadFile(r.stderr.Name())
		t.Fatalf("fio %v: %v\n%s", r.cmd.Args, err, msg)
	}
	b, err := os.ReadFile(r.out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := parseFio(b)
	if err != nil {
		t.Fatalf("fio output: %v\n%s", err, b)
	}
	if res.bytes == 0 {
		t.Fatalf("fio %v did no IO", r.cmd.Args)
	}
	return res
}

type fioDir struct {
	IOBytes int64   `json:"io_bytes"`
	BW      float64 `json:"bw_bytes"`
	IOPS    float64 `json:"iops"`
	Clat    struct {
		Percentile map[string]float64 `json:"percentile"`
	} `json:"clat_ns"`
}

func parseFio(b []byte) (fioResult, error) {
	// fio may print a warning line before its JSON.
	if i := bytes.IndexByte(b, '{'); i > 0 {
		b = b[i:]
	}
	var out struct {
		Jobs []struct {
			Error int    `json:"error"`
			Read  fioDir `json:"read"`
			Write fioDir `json:"write"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return fioResult{}, err
	}
	if len(out.Jobs) != 1 {
		return fioResult{}, fmt.Errorf("%d jobs in fio output, want 1", len(out.Jobs))
	}
	j := out.Jobs[0]
	if j.Error != 0 {
		return fioResult{}, fmt.Errorf("fio job error %d", j.Error)
	}
	d := j.Read
	if j.Write.IOBytes > j.Read.IOBytes {
		d = j.Write
	}
	pct := func(k string) time.Duration { return time.Duration(d.Clat.Percentile[k]) }
	return fioResult{
		bw: j.Read.BW + j.Write.BW, iops: j.Read.IOPS + j.Write.IOPS, bytes: j.Read.IOBytes + j.Write.IOBytes,
		p50: pct("50.000000"), p99: pct("99.000000"), p999: pct("99.900000"),
	}, nil
}
