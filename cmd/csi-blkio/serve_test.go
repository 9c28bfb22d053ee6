package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestServeAnswersHealthAndStopsOnSignal runs `csi-blkio serve` as main does
// (the signal context is cancelled here instead of SIGTERM): the socket
// appears, /healthz answers from Probe, and cancellation stops it with exit
// code 0 and removes the socket.
func TestServeAnswersHealthAndStopsOnSignal(t *testing.T) {
	requireThrottling(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "csi.sock")
	health := testutil.FreeLoopbackAddr(t)
	cancel, exit, stderr := runInBackground("--endpoint", "unix://"+sock, "--node-id", "csiblkio-test-node",
		"--state-dir", filepath.Join(dir, "state"), "--health-address", health)
	defer cancel()
	deadline := time.Now().Add(10 * time.Second)
	var body string
	for {
		resp, err := http.Get("http://" + health + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				body = string(b)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never answered 200 (last error %v); stderr: %s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if body != "ok\n" {
		t.Errorf("/healthz body %q", body)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("CSI socket: %v", err)
	}
	stopInBackground(t, cancel, exit, stderr)
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left after stop: %v", err)
	}
}
