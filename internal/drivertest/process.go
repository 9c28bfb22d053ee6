package drivertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Process is a csi-blkio binary serving CSI on a socket in a temp dir of its
// own, as StartProcess left it.
type Process struct {
	Cmd     *exec.Cmd
	Socket  string        // the CSI socket's path
	LogPath string        // where its stdout and stderr go
	exited  chan struct{} // closed once the process has exited
	exitErr error         // what Wait returned; read after exited is closed
}

// Start-up and shut-down bounds. They only catch a hang: the qemu tier runs
// the binary on an emulated CPU, where start-up took seconds.
const (
	processStartLimit = 30 * time.Second
	processStopLimit  = 10 * time.Second
)

// StartProcess runs `bin serve --endpoint unix://SOCKET args...` with its
// output in logPath and returns once the socket exists. It fails the test,
// with the log, if the process exits first or has not made the socket in
// 30 s. When the test ends the process gets SIGTERM, and the test fails
// if it does not exit with status 0 within 10 s (it is killed then); a
// failed test also logs what the process wrote.
func StartProcess(t *testing.T, bin, logPath string, args ...string) *Process {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Socket: filepath.Join(t.TempDir(), "csi.sock"), LogPath: logPath, exited: make(chan struct{})}
	p.Cmd = exec.Command(bin, append([]string{"serve", "--endpoint", "unix://" + p.Socket}, args...)...)
	p.Cmd.Stdout, p.Cmd.Stderr = logFile, logFile
	if err := p.Cmd.Start(); err != nil {
		logFile.Close()
		t.Fatal(err)
	}
	go func() { p.exitErr = p.Cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop(t)
		logFile.Close()
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(bin), p.ReadLog(t))
		}
	})
	p.waitSocket(t)
	return p
}

// stop sends SIGTERM and waits for the exit; a process that had already
// exited was reported when it did (waitSocket).
func (p *Process) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.exitErr != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.Cmd.Path, p.exitErr)
		}
	case <-time.After(processStopLimit):
		_ = p.Cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s did not stop within %v of SIGTERM", p.Cmd.Path, processStopLimit)
	}
}

func (p *Process) waitSocket(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(processStartLimit)
	for {
		if _, err := os.Stat(p.Socket); err == nil {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited before serving: %v", p.Cmd.Path, p.exitErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not create %s within %v", p.Cmd.Path, p.Socket, processStartLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadLog returns what the process has written so far.
func (p *Process) ReadLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Dial connects to the process's socket; the connection is closed when the
// test ends, before the process is stopped.
func (p *Process) Dial(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+p.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
