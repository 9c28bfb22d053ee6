package demo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ioProc is a running IO process as the demo sees it: its reports as they
// arrive, and its exit.
type ioProc struct {
	job IOJob
	cmd *exec.Cmd

	mu      sync.Mutex
	reports []Report
	stderr  bytes.Buffer

	stdin     io.WriteCloser
	ready     chan struct{} // closed at the Ready report: waiting for go
	startedAt time.Time     // when go was sent
	exited    chan struct{} // closed once the process is reaped; err is set
	err       error
}

// startIO starts cmd (the IO process's command line for j). It runs in a
// process group of its own, so a Ctrl-C meant for the demo reaches the
// demo alone, which then stops its IO processes in order.
func startIO(cmd *exec.Cmd, j IOJob) (*ioProc, error) {
	p := &ioProc{job: j, cmd: cmd, ready: make(chan struct{}), exited: make(chan struct{})}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the IO process: %w", err)
	}
	go p.read(out)
	return p, nil
}

func (p *ioProc) read(out io.Reader) {
	sc := bufio.NewScanner(out)
	var perr error
	for sc.Scan() {
		var r Report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			perr = fmt.Errorf("IO process printed %q: %w", sc.Text(), err)
			continue
		}
		if r.Ready {
			close(p.ready)
			continue
		}
		p.mu.Lock()
		p.reports = append(p.reports, r)
		p.mu.Unlock()
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	if err != nil {
		if msg := strings.TrimSpace(p.stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		p.err = fmt.Errorf("IO process on %s: %w", p.job.File, err)
	} else if perr != nil {
		p.err = perr
	} else if len(p.reports) == 0 || !p.reports[len(p.reports)-1].Done {
		p.err = fmt.Errorf("IO process on %s ended without its final report", p.job.File)
	}
	p.mu.Unlock()
	close(p.exited)
}

// start lets a ready process begin its IO.
func (p *ioProc) start() error {
	p.startedAt = time.Now()
	_, err := io.WriteString(p.stdin, "go\n")
	return err
}

// history returns a copy of the reports so far.
func (p *ioProc) history() []Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Report(nil), p.reports...)
}

// last returns the latest report (zero before the first).
func (p *ioProc) last() Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reports) == 0 {
		return Report{}
	}
	return p.reports[len(p.reports)-1]
}

// wait returns the process's error once it exited.
func (p *ioProc) wait() error {
	<-p.exited
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// stop ends the process if it still runs: SIGTERM (it finishes the IO in
// flight and exits), SIGKILL if that takes longer than grace. It returns
// once the process is reaped.
func (p *ioProc) stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("IO process did not exit after SIGKILL (stuck in the kernel?)")
	}
}

// lockedWriter serializes writes into a buffer that is read concurrently.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
