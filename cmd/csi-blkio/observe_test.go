package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestServeMetricsStandalone: `serve --metrics-address` without a
// kubeconfig (and not in a pod) serves Prometheus metrics of the throttle
// core and its queue.
func TestServeMetricsStandalone(t *testing.T) {
	requireThrottling(t)
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // never the in-cluster config here
	dir := t.TempDir()
	addr := testutil.FreeLoopbackAddr(t)
	cancel, exit, stderr := runInBackground("--endpoint", "unix://"+filepath.Join(dir, "csi.sock"), "--node-id", "csiblkio-test-node",
		"--state-dir", filepath.Join(dir, "state"), "--metrics-address", addr)
	defer cancel()
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if strings.Contains(body, `workqueue_adds_total{name="csi_blkio_stats"}`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never showed the stats queue (last error %v):\n%s\nstderr: %s", err, body, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{`csi_blkio_groups{phase="Active"} 0`, "csi_blkio_stats_failures_total 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cancel()
	if code := <-exit; code != 0 {
		t.Fatalf("exit code %d; stderr: %s", code, stderr.String())
	}
}
