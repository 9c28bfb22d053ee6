package registration

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// startServe runs Serve in the background and returns a function that stops
// it and returns Serve's error.
func startServe(t *testing.T, s *Server, path string, ready func(context.Context) error) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, path, ready) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return within 10 s of cancellation")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitForFile waits until path exists.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Lstat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 10 s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kubeletClient dials the registration socket as the kubelet's plugin
// watcher does.
func kubeletClient(t *testing.T, path string) registerapi.RegistrationClient {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return registerapi.NewRegistrationClient(conn)
}

func TestServeAnswersTheKubeletAndRemovesTheSocketOnStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blkio.csi.dev-reg.sock")
	s, err := New(Config{DriverName: "blkio.csi.dev", Endpoint: "/var/lib/kubelet/plugins/blkio.csi.dev/csi.sock"})
	if err != nil {
		t.Fatal(err)
	}
	stop := startServe(t, s, path, nil)
	waitForFile(t, path)
	c := kubeletClient(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	info, err := c.GetInfo(ctx, &registerapi.InfoRequest{})
	if err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	if info.Type != registerapi.CSIPlugin || info.Name != "blkio.csi.dev" ||
		info.Endpoint != "/var/lib/kubelet/plugins/blkio.csi.dev/csi.sock" ||
		len(info.SupportedVersions) != 1 || info.SupportedVersions[0] != "1.0.0" {
		t.Errorf("GetInfo = %+v; want a CSIPlugin blkio.csi.dev at the kubelet-side endpoint, version 1.0.0", info)
	}

	if got := s.Status(); got.Notified {
		t.Errorf("Status before any notification = %+v, want not notified", got)
	}
	if _, err := c.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{PluginRegistered: false, Error: "no such socket"}); err != nil {
		t.Fatalf("NotifyRegistrationStatus: %v", err)
	}
	if got, want := s.Status(), (Status{Notified: true, Registered: false, Error: "no such socket"}); got != want {
		t.Errorf("Status after a refusal = %+v, want %+v", got, want)
	}
	if _, err := c.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{PluginRegistered: true}); err != nil {
		t.Fatalf("NotifyRegistrationStatus: %v", err)
	}
	if got, want := s.Status(), (Status{Notified: true, Registered: true}); got != want {
		t.Errorf("Status after success = %+v, want %+v", got, want)
	}

	if err := stop(); err != nil {
		t.Fatalf("Serve returned %v after cancellation, want nil", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the registration socket is still there after stop (Lstat: %v); the kubelet would keep a dead plugin", err)
	}
}

func TestServeAnnouncesOnlyOnceTheCSISocketAccepts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reg.sock")
	csiSock := filepath.Join(dir, "csi.sock")
	s, err := New(Config{DriverName: "blkio.csi.dev", Endpoint: csiSock})
	if err != nil {
		t.Fatal(err)
	}
	startServe(t, s, path, SocketAccepts(csiSock, 10*time.Millisecond))

	time.Sleep(200 * time.Millisecond)
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the registration socket appeared before the CSI socket listened (Lstat: %v)", err)
	}
	lis, err := net.Listen("unix", csiSock)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	waitForFile(t, path)
}

func TestServeGivesUpWaitingWhenStopped(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{DriverName: "blkio.csi.dev", Endpoint: filepath.Join(dir, "csi.sock")})
	if err != nil {
		t.Fatal(err)
	}
	stop := startServe(t, s, filepath.Join(dir, "reg.sock"), SocketAccepts(filepath.Join(dir, "csi.sock"), 10*time.Millisecond))
	time.Sleep(50 * time.Millisecond)
	err = stop()
	if err == nil || !strings.Contains(err.Error(), "never accepted a connection") {
		t.Errorf("Serve stopped while waiting returned %v, want an error saying the CSI socket never accepted", err)
	}
}

func TestServeReplacesAStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reg.sock")
	// A socket left behind by a killed plugin: the listener is closed
	// without unlinking it.
	lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	lis.SetUnlinkOnClose(false)
	lis.Close()

	s, err := New(Config{DriverName: "blkio.csi.dev", Endpoint: "/csi/csi.sock"})
	if err != nil {
		t.Fatal(err)
	}
	startServe(t, s, path, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := kubeletClient(t, path)
	// The new server answers on the old path (waitForReady rides out the
	// moment between removal and Listen).
	if _, err := c.GetInfo(ctx, &registerapi.InfoRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("GetInfo on the replaced socket: %v", err)
	}
}

func TestServeRefusesToReplaceAFileThatIsNotASocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reg.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{DriverName: "blkio.csi.dev", Endpoint: "/csi/csi.sock"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Serve(context.Background(), path, nil)
	if err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("Serve on a regular file returned %v, want a refusal saying it is not a socket", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Errorf("the file was touched: %q, %v", b, err)
	}
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no driver name", Config{Endpoint: "/csi/csi.sock"}, "driver name is required"},
		{"relative endpoint", Config{DriverName: "blkio.csi.dev", Endpoint: "csi.sock"}, "must be an absolute socket path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
			}
		})
	}
}
