package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"
)

// requireThrottling skips on a host without a cgroup hierarchy that
// throttles IO (Probe would say not ready).
func requireThrottling(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device"); err != nil {
		t.Skip("needs a cgroup hierarchy with IO throttling (Probe reports not ready without one)")
	}
}

// runInBackground runs the command line as main does, until cancel; exit
// gets its exit code. stderr is only safe to read after exit.
func runInBackground(args ...string) (cancel context.CancelFunc, exit <-chan int, stderr *bytes.Buffer) {
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &bytes.Buffer{}
	code := make(chan int, 1)
	go func() { code <- run(ctx, args, stderr) }()
	return cancel, code, stderr
}

// stopInBackground cancels a runInBackground command and fails t unless it
// exits with code 0 within 10 s.
func stopInBackground(t *testing.T, cancel context.CancelFunc, exit <-chan int, stderr *bytes.Buffer) {
	t.Helper()
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit code %d after cancel; stderr: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10 s of cancellation")
	}
}
