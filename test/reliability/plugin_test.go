package reliability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
)

// plugin is one run of `csi-blkio serve`.
type plugin struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process is reaped
	state   *os.ProcessState
	conn    *grpc.ClientConn
	// traced: the process is strace and the plugin its child (strace 6.1
	// has no --kill-on-exit, so a kill must reach the child itself).
	traced bool
}

// start runs the binary on the env's socket, state dir and cgroup parent,
// with extra environment (e.g. a CSI_BLKIO_FAULT), and waits until it
// answers GetPluginInfo: start-up recovery runs before it serves, so a
// returned plugin has recovered.
func (e *env) start(t *testing.T, extraEnv ...string) *plugin {
	t.Helper()
	e.starts++
	p := &plugin{logPath: filepath.Join(e.base, fmt.Sprintf("plugin-%d.log", e.starts)), exited: make(chan struct{}), traced: len(e.wrap) > 0}
	logf, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	args := append(append(append([]string{}, e.wrap...), e.binary()), e.serveArgs()...)
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	// The race runtime sleeps 1 s at exit by default, for reports of
	// goroutines still running; 100 ms is plenty for a stopped plugin.
	p.cmd.Env = append(append(os.Environ(), "GORACE=atexit_sleep_ms=100"), extraEnv...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill(t) })

	// Reconnect fast: the socket appears only after start-up recovery, and
	// a killed plugin leaves its stale socket file behind.
	conn, err := grpc.NewClient("unix://"+e.sock, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{MinConnectTimeout: 5 * time.Second,
			Backoff: backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.5, MaxDelay: 100 * time.Millisecond}}))
	if err != nil {
		t.Fatal(err)
	}
	p.conn = conn
	t.Cleanup(func() { conn.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.exited:
			t.Fatalf("plugin exited during start (%v); log:\n%s", p.state, p.log(t))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := csi.NewIdentityClient(conn).GetPluginInfo(ctx, &csi.GetPluginInfoRequest{})
		cancel()
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin did not answer within 30 s (last error %v); log:\n%s", err, p.log(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) serveArgs() []string {
	args := []string{"serve", "--endpoint", "unix://" + e.sock, "--node-id", "csiblkio-test-node",
		"--state-dir", e.stateDir, "--kubelet-cgroup-root", "/" + e.parent, "--stats-interval", "500ms", "-v=4"}
	return args
}

func (e *env) binary() string {
	if binary == "" {
		panic("the csi-blkio binary was not built (TestMain)")
	}
	return binary
}

func (p *plugin) node() csi.NodeClient             { return csi.NewNodeClient(p.conn) }
func (p *plugin) controller() csi.ControllerClient { return csi.NewControllerClient(p.conn) }

func (p *plugin) log(t *testing.T) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Errorf("read plugin log: %v", err)
	}
	return string(b)
}

// kill is kill -9 from outside; a plugin already gone is fine.
func (p *plugin) kill(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	if p.traced {
		for _, pid := range p.children() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, 20*time.Second)
}

// children are the process's child pids.
func (p *plugin) children() []int {
	pid := p.cmd.Process.Pid
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func (p *plugin) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("plugin %d did not exit within %s", p.cmd.Process.Pid, d)
	}
	p.checkRaces(t)
}

// stop is SIGTERM: a graceful stop must exit 0. A race-enabled binary
// that saw a data race exits 66, and the log holds the report.
func (p *plugin) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 30*time.Second)
	if code := p.state.ExitCode(); code != 0 {
		t.Errorf("plugin exit code %d after SIGTERM; log tail:\n%s", code, tail(p.log(t), 40))
	}
}

// waitFault waits for the plugin to die by its own SIGKILL at point.
func (p *plugin) waitFault(t *testing.T, point string) {
	t.Helper()
	p.wait(t, 30*time.Second)
	ws, ok := p.state.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("plugin ended with %v, want death by SIGKILL; log tail:\n%s", p.state, tail(p.log(t), 30))
	}
	if !strings.Contains(p.log(t), `"Fault injected: killing the plugin with SIGKILL" point="`+point+`"`) {
		t.Fatalf("plugin died but not at fault point %s; log tail:\n%s", point, tail(p.log(t), 30))
	}
}

func (p *plugin) checkRaces(t *testing.T) {
	if log := p.log(t); strings.Contains(log, "WARNING: DATA RACE") {
		t.Errorf("the plugin reported a data race:\n%s", log[strings.Index(log, "WARNING: DATA RACE"):])
	}
}

var recoveryLine = regexp.MustCompile(`"Start-up recovery finished"(.*)`)
var countField = regexp.MustCompile(`([a-z_]+)=(\d+)`)

// recovery parses the counts of the plugin's start-up recovery log line.
func (p *plugin) recovery(t *testing.T) map[string]int {
	t.Helper()
	m := recoveryLine.FindStringSubmatch(p.log(t))
	if m == nil {
		t.Fatalf("no start-up recovery line in the plugin log:\n%s", tail(p.log(t), 30))
	}
	out := map[string]int{}
	for _, f := range countField.FindAllStringSubmatch(m[1], -1) {
		if f[1] == "volumes" {
			continue
		}
		n, _ := strconv.Atoi(f[2])
		out[f[1]] = n
	}
	return out
}

// wantRecovery asserts the recovery counts exactly (absent = 0).
func (p *plugin) wantRecovery(t *testing.T, want map[string]int) {
	t.Helper()
	got := p.recovery(t)
	for k, n := range got {
		if want[k] != n {
			t.Errorf("recovery %s = %d, want %d (all: %v)", k, n, want[k], got)
		}
	}
	for k, n := range want {
		if _, ok := got[k]; !ok && n != 0 {
			t.Errorf("recovery %s = 0, want %d (all: %v)", k, n, got)
		}
	}
	if t.Failed() {
		t.Logf("plugin log:\n%s", tail(p.log(t), 60))
		return
	}
	for _, line := range strings.Split(p.log(t), "\n") {
		if strings.Contains(line, `"Recovery: `) {
			t.Log(line[strings.Index(line, `"Recovery: `):])
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
