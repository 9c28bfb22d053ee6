package iobench

import (
	"bufio"
	"bytes"
	"context"
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

// Proc is a running IO process (RunIO) as its parent sees it: its reports
// as they arrive, and its exit.
type Proc struct {
	job Job
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

// Start starts cmd, the IO process's command line for j (j.Args). It runs
// in a process group of its own, so a Ctrl-C meant for the parent reaches
// the parent alone, which then stops its IO processes in order.
func Start(cmd *exec.Cmd, j Job) (*Proc, error) {
	p := &Proc{job: j, cmd: cmd, ready: make(chan struct{}), exited: make(chan struct{})}
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

func (p *Proc) read(out io.Reader) {
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

// Job is what the process does.
func (p *Proc) Job() Job { return p.job }

// Ready is closed once the process prepared its file and waits for Go.
func (p *Proc) Ready() <-chan struct{} { return p.ready }

// Exited is closed once the process is reaped (Wait then returns at once).
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Go lets a ready process begin its IO.
func (p *Proc) Go() error {
	p.startedAt = time.Now()
	_, err := io.WriteString(p.stdin, "go\n")
	return err
}

// StartedAt is when Go was called, on the parent's clock.
func (p *Proc) StartedAt() time.Time { return p.startedAt }

// History returns a copy of the reports so far.
func (p *Proc) History() []Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Report(nil), p.reports...)
}

// Last returns the latest report (zero before the first).
func (p *Proc) Last() Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reports) == 0 {
		return Report{}
	}
	return p.reports[len(p.reports)-1]
}

// Wait returns the process's error once it exited.
func (p *Proc) Wait() error {
	<-p.exited
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Stop ends the process if it still runs: SIGTERM (it finishes the IO in
// flight and exits), SIGKILL if that takes longer than grace. It returns
// once the process is reaped.
func (p *Proc) Stop(grace time.Duration) error {
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

// StartTogether waits until every process prepared its file, then lets
// them all go: their IO phases coincide, and no preparation competes with
// a measurement.
func StartTogether(ctx context.Context, procs []*Proc) error {
	for _, p := range procs {
		select {
		case <-p.ready:
		case <-p.exited:
			if err := p.Wait(); err != nil {
				return err
			}
			return fmt.Errorf("IO process on %s exited before it was ready", p.job.File)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, p := range procs {
		if err := p.Go(); err != nil {
			return fmt.Errorf("start the IO on %s: %w", p.job.File, err)
		}
	}
	return nil
}

// WaitAll returns the first error of procs once all exited.
func WaitAll(procs []*Proc) error {
	var first error
	for _, p := range procs {
		if err := p.Wait(); err != nil && first == nil {
			first = err
		}
	}
	return first
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
