package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// TestServeRegistersWithTheKubelet runs `csi-blkio serve` with
// --registration-socket: the socket answers GetInfo as the kubelet's plugin
// watcher calls it, announcing --kubelet-plugin-endpoint, and it is gone
// after the stop (so the kubelet deregisters a stopped plugin).
func TestServeRegistersWithTheKubelet(t *testing.T) {
	requireThrottling(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "csi.sock")
	reg := filepath.Join(dir, "reg.sock")
	kubeletSide := "/var/lib/kubelet/plugins/blkio.csi.dev/csi.sock"
	cancel, exit, stderr := runInBackground("--endpoint", "unix://"+sock, "--node-id", "csiblkio-test-node",
		"--state-dir", filepath.Join(dir, "state"),
		"--registration-socket", reg, "--kubelet-plugin-endpoint", kubeletSide)
	defer cancel()

	conn, err := grpc.NewClient("unix://"+reg, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	info, err := registerapi.NewRegistrationClient(conn).GetInfo(ctx, &registerapi.InfoRequest{}, grpc.WaitForReady(true))
	if err != nil {
		cancel()
		<-exit
		t.Fatalf("GetInfo on %s: %v; stderr: %s", reg, err, stderr.String())
	}
	if info.Name != "blkio.csi.dev" || info.Endpoint != kubeletSide || info.Type != registerapi.CSIPlugin {
		t.Errorf("GetInfo = %+v, want CSIPlugin blkio.csi.dev at %s", info, kubeletSide)
	}
	// Announced only after the CSI socket listens.
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("registration answered but the CSI socket is missing: %v", err)
	}

	stopInBackground(t, cancel, exit, stderr)
	if _, err := os.Lstat(reg); !os.IsNotExist(err) {
		t.Errorf("registration socket left after stop: %v", err)
	}
}
