package main

import (
	"bytes"
	"context"
	"os"
	"testing"
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
