package iobench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// directIODir returns a temp dir on a filesystem that takes O_DIRECT.
func directIODir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, "probe"), os.O_CREATE|os.O_RDWR|unix.O_DIRECT, 0o644)
	if errors.Is(err, unix.EINVAL) {
		t.Skipf("%s does not support O_DIRECT", dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return dir
}

func decodeReports(t *testing.T, out []byte) []Report {
	t.Helper()
	var rs []Report
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r Report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		rs = append(rs, r)
	}
	return rs
}

// checkReports: Ready first, then growing totals, at most one progress
// line per report interval, the last one Done after the duration, each IO
// a whole block. How many progress lines there are is the scheduler's
// business: a line goes out when an IO completes past an interval's end,
// and on a loaded machine one IO can span the whole run (seen: the IO
// thread waited 355 ms for a CPU in a 300 ms run, so Ready, one progress
// line and Done were all there was).
func checkReports(t *testing.T, rs []Report, j Job) {
	t.Helper()
	if len(rs) < 3 || !rs[0].Ready {
		t.Fatalf("reports %+v: want Ready first, then progress lines and Done", rs)
	}
	progress := rs[1 : len(rs)-1]
	for i, r := range progress {
		if r.Elapsed < j.Report || i > 0 && r.Elapsed.Truncate(j.Report) <= progress[i-1].Elapsed.Truncate(j.Report) {
			t.Errorf("progress line %d at %s: want one line per %s interval, after the first interval", i, r.Elapsed, j.Report)
		}
	}
	for i := 2; i < len(rs); i++ {
		if rs[i].Bytes < rs[i-1].Bytes || rs[i].Elapsed < rs[i-1].Elapsed || rs[i].Waited < rs[i-1].Waited {
			t.Errorf("report %d goes backwards: %+v after %+v", i, rs[i], rs[i-1])
		}
	}
	last := rs[len(rs)-1]
	if !last.Done || last.Elapsed < j.Duration || last.Ops == 0 || last.Bytes != last.Ops*uint64(j.Block) {
		t.Errorf("last report %+v: want Done after %s with %d bytes per op", last, j.Duration, j.Block)
	}
	if last.Waited > last.Elapsed {
		t.Errorf("last report %+v: the IO thread waited for a CPU longer than the IO ran", last)
	}
}

func TestRunIOWritesAndReports(t *testing.T) {
	dir := directIODir(t)
	j := Job{File: filepath.Join(dir, "w.dat"), Mode: ModeWrite, Unit: UnitBytes, Block: 64 << 10, FileSize: 1 << 20,
		Duration: 300 * time.Millisecond, Report: 50 * time.Millisecond}
	var out, errs bytes.Buffer
	if err := RunIO(context.Background(), j.Args(), strings.NewReader("go\n"), &out, &errs); err != nil {
		t.Fatalf("RunIO: %v (%s)", err, errs.String())
	}
	checkReports(t, decodeReports(t, out.Bytes()), j)
	if fi, err := os.Stat(j.File); err != nil || fi.Size() != j.FileSize {
		t.Errorf("file: %v, size %d, want %d (allocated before the IO)", err, fi.Size(), j.FileSize)
	}
}

func TestRunIOReadsAPreparedFile(t *testing.T) {
	dir := directIODir(t)
	j := Job{File: filepath.Join(dir, "r.dat"), Mode: ModeRead, Unit: UnitIOPS, Block: 4096, FileSize: 2 << 20,
		Duration: 200 * time.Millisecond, Report: 50 * time.Millisecond}
	var out, errs bytes.Buffer
	if err := RunIO(context.Background(), j.Args(), strings.NewReader("go\n"), &out, &errs); err != nil {
		t.Fatalf("RunIO: %v (%s)", err, errs.String())
	}
	checkReports(t, decodeReports(t, out.Bytes()), j)
	// Reads of never-written blocks cost no IO: the file must hold data.
	b, err := os.ReadFile(j.File)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != j.FileSize || bytes.Count(b, []byte{0}) > len(b)/2 {
		t.Errorf("prepared file: %d bytes, %d zero bytes; want %d bytes of data", len(b), bytes.Count(b, []byte{0}), j.FileSize)
	}
}

func TestRunIOWaitsForGo(t *testing.T) {
	dir := directIODir(t)
	j := Job{File: filepath.Join(dir, "w.dat"), Mode: ModeWrite, Unit: UnitBytes, Block: 4096, FileSize: 1 << 20,
		Duration: time.Second, Report: 50 * time.Millisecond}
	var out bytes.Buffer
	err := RunIO(context.Background(), j.Args(), strings.NewReader(""), &out, &bytes.Buffer{})
	if err == nil {
		t.Fatal("RunIO ran without a go")
	}
	if rs := decodeReports(t, out.Bytes()); len(rs) != 1 || !rs[0].Ready {
		t.Errorf("reports without go: %+v, want Ready only", rs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	if err := RunIO(ctx, j.Args(), r, &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while waiting for go: %v", err)
	}
}

// ioCommand runs this test binary as the IO process.
func ioCommand(args []string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), ioChildEnv+"=1")
	return cmd
}

func TestIOProcessesStartTogetherAndReport(t *testing.T) {
	dir := directIODir(t)
	var procs []*Proc
	for _, name := range []string{"a", "b"} {
		j := Job{File: filepath.Join(dir, name), Mode: ModeWrite, Unit: UnitBytes, Block: 64 << 10, FileSize: 1 << 20,
			Duration: 300 * time.Millisecond, Report: 50 * time.Millisecond}
		p, err := Start(ioCommand(j.Args()), j)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(time.Second) })
		procs = append(procs, p)
	}
	for _, p := range procs {
		select {
		case <-p.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("IO process never ready")
		}
		if len(p.History()) != 0 {
			t.Fatalf("IO before go: %+v", p.History())
		}
	}
	for _, p := range procs {
		if err := p.Go(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range procs {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
		if last := p.Last(); !last.Done || last.Bytes == 0 || last.Elapsed < 300*time.Millisecond {
			t.Errorf("last report %+v", last)
		}
	}
}

func TestIOProcessStopsOnRequest(t *testing.T) {
	dir := directIODir(t)
	j := Job{File: filepath.Join(dir, "long"), Mode: ModeWrite, Unit: UnitBytes, Block: 64 << 10, FileSize: 1 << 20,
		Duration: time.Minute, Report: 50 * time.Millisecond}
	p, err := Start(ioCommand(j.Args()), j)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Ready()
	if err := p.Go(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := p.Stop(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	// SIGTERM ends the IO loop: the process exits by itself with an error.
	// Had it ignored SIGTERM, stop would have killed it after the grace
	// period. The exit status tells the two apart without a clock, which a
	// loaded machine would stretch.
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signaled() {
		t.Errorf("the IO process ended with %v: want an exit of its own after SIGTERM, not a kill", p.cmd.ProcessState)
	}
	if err := p.Wait(); err == nil {
		t.Error("a stopped IO process reports success")
	}
	if p.Last().Done {
		t.Error("a stopped IO process claims it finished")
	}
}

func TestIOProcessFailureCarriesItsMessage(t *testing.T) {
	j := Job{File: filepath.Join(t.TempDir(), "no", "such", "dir", "f"), Mode: ModeWrite, Unit: UnitBytes,
		Block: 4096, FileSize: 1 << 20, Duration: time.Second, Report: 50 * time.Millisecond}
	p, err := Start(ioCommand(j.Args()), j)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Wait()
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("wait() = %v; want the IO process's own message", err)
	}
}

// With Latency the progress reports carry the percentiles of their window
// and the last one those of the whole run; without, none do.
func TestRunIOReportsLatency(t *testing.T) {
	dir := directIODir(t)
	for _, latency := range []bool{true, false} {
		j := Job{File: filepath.Join(dir, "lat.dat"), Mode: ModeRead, Unit: UnitIOPS, Block: 4096, FileSize: 1 << 20,
			Duration: 300 * time.Millisecond, Report: 50 * time.Millisecond, Latency: latency}
		var out, errs bytes.Buffer
		if err := RunIO(context.Background(), j.Args(), strings.NewReader("go\n"), &out, &errs); err != nil {
			t.Fatalf("RunIO: %v (%s)", err, errs.String())
		}
		rs := decodeReports(t, out.Bytes())
		checkReports(t, rs, j)
		last := rs[len(rs)-1]
		for _, r := range rs[1:] {
			has := r.P50 > 0 && r.P99 >= r.P50
			if latency != has {
				t.Errorf("latency %v: report %+v", latency, r)
			}
			if r != last && r.P999 != 0 {
				t.Errorf("a progress report has a p99.9: %+v", r)
			}
		}
		if latency && (last.P999 < last.P99 || last.P99 > time.Second) {
			t.Errorf("final report %+v: want p50 <= p99 <= p99.9, all plausible", last)
		}
	}
}

func TestJobArgsRoundTrip(t *testing.T) {
	j := Job{Cgroup: "/sys/fs/cgroup/blkio/x/writer", File: "/mnt/demo.dat", Mode: ModeRead, Unit: UnitIOPS,
		Block: 4096, FileSize: 64 << 20, Duration: 3 * time.Second, Report: 100 * time.Millisecond, Latency: true}
	got, err := ParseJob(j.Args(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got != j {
		t.Errorf("round trip: %+v, want %+v", got, j)
	}
	for _, bad := range [][]string{
		{"--mode=x"}, {"--unit=x"}, {"--block=1000"}, {"--file-size=4096", "--block=8192"}, {"--duration=0s"}, {"extra"},
	} {
		args := append([]string{"--file=/f"}, bad...)
		if _, err := ParseJob(args, io.Discard); err == nil {
			t.Errorf("ParseJob(%v) accepted", args)
		}
	}
	if _, err := ParseJob(nil, io.Discard); err == nil || !strings.Contains(err.Error(), "--file") {
		t.Errorf("no --file: %v", err)
	}
}
