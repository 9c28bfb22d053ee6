package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// The demo tests run `csi-blkio demo` as a process (this test binary acting
// as csi-blkio) with TMPDIR pointing into the test's temp dir, so that all
// it creates lies in a place the test can inspect afterwards.

// requireDemoKernel skips unless the demo can run: root, loop devices and a
// cgroup hierarchy that throttles IO.
func requireDemoKernel(t *testing.T) throttle.Backend {
	t.Helper()
	if testing.Short() {
		t.Skip("kernel test: real loop devices, mounts and cgroups; not in -short")
	}
	testutil.RequireRoot(t)
	b, err := throttle.DetectBackend(DefaultOptions().CgroupRoot, nil)
	if err != nil {
		t.Skipf("no cgroup hierarchy that throttles IO: %v", err)
	}
	return b
}

// demoTmp is the TMPDIR the demo process gets.
func demoTmp(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), testutil.Prefix+"-demo")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return real
}

func demoCommand(bin, tmp string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"demo"}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "TMPDIR="+tmp, "TERM=dumb")
	return cmd
}

// exitCode of a finished command (-1 when it did not exit normally).
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("run: %v", err)
	return -1
}

// assertLeftNothing: no loop device backed by a file below tmp, no mount
// below it, nothing in it, no cgroup of the demo process, no process
// working on its files.
func assertLeftNothing(t *testing.T, b throttle.Backend, tmp string, pid int) {
	t.Helper()
	if left := drivertest.LoopsBackedUnder(t, tmp); len(left) > 0 {
		t.Errorf("loop devices left attached: %v", left)
	}
	if left := drivertest.MountsUnder(t, tmp); len(left) > 0 {
		t.Errorf("mounts left: %v", left)
	}
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) > 0 {
		t.Errorf("temp dir %s: %v, entries left: %v", tmp, err, ents)
	}
	cg := filepath.Join(b.Hierarchy(), "csi-blkio-demo-"+strconv.Itoa(pid))
	if _, err := os.Stat(cg); !os.IsNotExist(err) {
		t.Errorf("demo cgroup %s left (stat: %v)", cg, err)
	}
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(tmp+"/")) {
			t.Errorf("a process still works below %s: %s %q", tmp, f, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

// tableRows is the demo's final table in out: the fields of every line
// after the first one isHeader accepts. The demo prints progress above the
// table, and a progress line may start like a row.
func tableRows(out string, isHeader func(fields []string) bool) [][]string {
	var rows [][]string
	header := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case header:
			rows = append(rows, f)
		case isHeader(f):
			header = true
		}
	}
	return rows
}

// limitedRatio finds the limited volume's ratio in the final table.
func limitedRatio(t *testing.T, out string) float64 {
	t.Helper()
	for _, f := range tableRows(out, func(f []string) bool { return len(f) > 4 && f[0] == "volume" && f[3] == "ratio" }) {
		if len(f) > 5 && f[0] == "limited" {
			r, err := strconv.ParseFloat(f[5], 64)
			if err != nil {
				t.Fatalf("ratio column of %q: %v", f, err)
			}
			return r
		}
	}
	t.Fatalf("no table with a limited row in the output:\n%s", out)
	return 0
}

// passBand reads the band the demo's verdict applied: "pass band 0.9-1.1"
// or, on a busy machine, "pass band 0.84-1.1: ...".
func passBand(t *testing.T, out string) (lo, hi float64) {
	t.Helper()
	i := strings.Index(out, "pass band ")
	if i < 0 {
		t.Fatalf("no pass band in the output:\n%s", out)
	}
	if _, err := fmt.Sscanf(out[i:], "pass band %g-%g", &lo, &hi); err != nil {
		t.Fatalf("pass band in %q: %v", out[i:min(len(out), i+40)], err)
	}
	return lo, hi
}

func TestDemoEndToEnd(t *testing.T) {
	b := requireDemoKernel(t)
	tmp := demoTmp(t)
	var stdout, stderr bytes.Buffer
	cmd := demoCommand(os.Args[0], tmp, "--duration", "3s")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("demo output:\n%s", stdout.String())
	if code := exitCode(t, err); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	// The floor is 0.9 less the share of the run the IO process waited for
	// a CPU (a busy machine); the verdict prints the band it applied.
	if lo, hi := passBand(t, out); lo > 0.9 || lo < 0 || hi != 1.1 {
		t.Errorf("pass band %.2f-%.2f, want 1.1 above and at most 0.9 below", lo, hi)
	} else if r := limitedRatio(t, out); r < lo || r > hi {
		t.Errorf("limited ratio %.3f outside %.2f-%.2f although the demo passed", r, lo, hi)
	}
	for _, want := range []string{
		"unlimited  none", // the unlimited volume's row
		"PASS: the limited volume ran at",
		"removed everything the demo created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !b.Hierarchical() && !strings.Contains(out, "written by the throttle core's watcher") {
		t.Error("on cgroup v1 the output should say the watcher placed the container's limit")
	}
	assertLeftNothing(t, b, tmp, cmd.Process.Pid)
}

func TestDemoCleansUpOnCtrlC(t *testing.T) {
	b := requireDemoKernel(t)
	tmp := demoTmp(t)
	cmd := demoCommand(os.Args[0], tmp, "--duration", "60s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the IO runs: the first progress line.
	var story bytes.Buffer
	running := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			story.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "limited") && strings.Contains(sc.Text(), "of its") {
				signalled = true
				close(running)
			}
		}
	}()
	// The demo's output ends when it exits: one that fails before its IO
	// runs fails the test at once, with what it said. The limit is only
	// against a hang: the setup before the first progress line (loop
	// devices, mkfs, cgroups) takes seconds even on a loaded machine.
	select {
	case <-running:
	case <-copied:
		err := cmd.Wait()
		t.Fatalf("the demo ended before it reported progress (%v); output:\n%s\nstderr:\n%s", err, story.String(), stderr.String())
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		<-copied
		_ = cmd.Wait()
		t.Fatalf("the demo reported no progress within 5 minutes; output:\n%s\nstderr:\n%s", story.String(), stderr.String())
	}
	// Leftovers exist now; the test checks below that they are gone.
	if len(drivertest.MountsUnder(t, tmp)) == 0 {
		t.Error("no mounts below the demo's temp dir while it runs: the leftover check would prove nothing")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-copied
	err = cmd.Wait()
	t.Logf("demo output:\n%s\nstderr:\n%s", story.String(), stderr.String())
	if code := exitCode(t, err); code != 1 {
		t.Errorf("exit code %d after SIGINT, want 1", code)
	}
	if !strings.Contains(story.String(), "removed everything the demo created") || !strings.Contains(stderr.String(), "interrupted") {
		t.Error("the demo did not say it was interrupted and cleaned up")
	}
	assertLeftNothing(t, b, tmp, cmd.Process.Pid)
}

// TestDemoExplainsItNeedsRoot runs the demo as nobody (or as the invoking
// user when the tests do not run as root).
func TestDemoExplainsItNeedsRoot(t *testing.T) {
	bin := os.Args[0]
	// nobody must be able to reach and run the binary: a copy in a dir
	// everyone can read.
	dir, err := os.MkdirTemp("", testutil.Prefix+"-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		bin = filepath.Join(dir, "csi-blkio")
		copyFile(t, os.Args[0], bin)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	cmd := demoCommand(bin, tmp)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Dir = dir
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := exitCode(t, cmd.Run())
	if code != 1 {
		t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"needs root", "loop devices", "cgroup", "sudo csi-blkio demo"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("the refused demo created %v", ents)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
