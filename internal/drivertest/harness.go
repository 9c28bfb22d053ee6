// Package drivertest starts the real csi-blkio driver for tests: real loop
// devices, real mkfs and mounts, the given throttler, a state dir and a CSI
// socket in t.TempDir(). Everything it or the driver creates is cleaned up
// in t.Cleanup, also when the test fails — and only that: it finds its loop
// devices by their backing files inside its own state dir and its mounts by
// their paths inside its own temp dirs.
package drivertest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/mount-utils"
	utilexec "k8s.io/utils/exec"

	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/mounter"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// Harness is a running driver.
type Harness struct {
	Driver   *driver.Driver
	Endpoint string // unix:///.../csi.sock
	StateDir string
	// WorkDir is a temp dir for target and staging paths.
	WorkDir string
	Conn    *grpc.ClientConn
	Loop    loop.Attacher
}

// Start runs the driver on the real throttle core until the test ends.
func Start(t *testing.T, th *Throttle) *Harness {
	t.Helper()
	return StartWith(t, th, nil)
}

// StartWith is Start with a hook that may wrap the driver's dependencies
// before the driver is built (the benchmarks time each step of the publish
// path this way, without instrumenting the driver). wrap may be nil.
func StartWith(t *testing.T, th *Throttle, wrap func(*driver.Deps)) *Harness {
	t.Helper()
	testutil.RequireRoot(t)
	base := t.TempDir()
	h := &Harness{
		StateDir: filepath.Join(base, testutil.Prefix+"-state"),
		WorkDir:  filepath.Join(base, testutil.Prefix+"-work"),
		Endpoint: "unix://" + filepath.Join(base, "csi.sock"),
		Loop:     loop.NewKernel(),
	}
	if err := os.MkdirAll(h.WorkDir, 0o750); err != nil {
		t.Fatal(err)
	}
	// Registered first so it runs last: after the server stopped.
	t.Cleanup(func() { h.sweep(t, base) })

	store, err := volume.NewStore(h.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	exec := utilexec.New()
	deps := driver.Deps{
		Store:     store,
		Loop:      h.Loop,
		Mounter:   mount.NewSafeFormatAndMount(mounter.New(), exec),
		Resizer:   mount.NewResizeFs(exec),
		Throttler: th.Table,
		Kernel:    th.Backend,
	}
	if wrap != nil {
		wrap(&deps)
	}
	d, err := driver.New(driver.Config{
		Name: "blkio.csi.dev", Version: "test", NodeID: "csiblkio-test-node", StateDir: h.StateDir,
	}, deps)
	if err != nil {
		t.Fatal(err)
	}
	h.Driver = d
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, h.Endpoint) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	sock := strings.TrimPrefix(h.Endpoint, "unix://")
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// The socket file appears when Serve binds it, a moment before it
	// listens; a call in between is refused. Wait for a Probe to answer.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
		_, err := csi.NewIdentityClient(conn).Probe(pctx, &csi.ProbeRequest{})
		pcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("driver on %s did not answer a Probe: %v", sock, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.Conn = conn
	return h
}

// Node and Controller are CSI clients on the harness's connection.
func (h *Harness) Node() csi.NodeClient             { return csi.NewNodeClient(h.Conn) }
func (h *Harness) Controller() csi.ControllerClient { return csi.NewControllerClient(h.Conn) }

// sweep unmounts whatever is still mounted below base and detaches loop
// devices backed by files below it — a failed test's leftovers. A clean run
// leaves nothing, and then sweep reports nothing.
func (h *Harness) sweep(t *testing.T, base string) {
	mounter := mount.New("")
	mps, err := mounter.List()
	if err != nil {
		t.Errorf("list mounts: %v", err)
	}
	// Deepest first, so bind mounts go before what they sit on.
	for i := len(mps) - 1; i >= 0; i-- {
		if p := mps[i].Path; strings.HasPrefix(p, base+"/") {
			t.Logf("sweep: unmounting leftover %s", p)
			if err := mounter.Unmount(p); err != nil {
				t.Errorf("sweep: unmount %s: %v", p, err)
			}
		}
	}
	for _, dev := range LoopsBackedUnder(t, base) {
		t.Logf("sweep: detaching leftover %s", dev)
		if err := h.Loop.Detach(dev); err != nil {
			t.Errorf("sweep: detach %s: %v", dev, err)
		}
	}
}

// LoopsBackedUnder lists loop devices whose backing file lies below dir.
func LoopsBackedUnder(t *testing.T, dir string) []string {
	t.Helper()
	return loopsWhere(t, func(file string) bool { return strings.HasPrefix(file, dir+"/") })
}

// LoopsBackedBy lists the loop devices whose backing file is file.
func LoopsBackedBy(t *testing.T, file string) []string {
	t.Helper()
	return loopsWhere(t, func(backing string) bool { return backing == file })
}

// loopsWhere lists the loop devices whose backing file keep accepts, read
// from sysfs by the plugin's own lister. A failed read fails the test but
// lists nothing, so that a sweep in t.Cleanup goes on to the mounts.
func loopsWhere(t *testing.T, keep func(backing string) bool) []string {
	t.Helper()
	atts, err := loop.NewKernel().List()
	if err != nil {
		t.Errorf("list loop devices: %v", err)
		return nil
	}
	var out []string
	for _, a := range atts {
		if keep(a.BackingFile) {
			out = append(out, a.Device)
		}
	}
	return out
}

// MountsUnder lists mount points below dir.
func MountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	mps, err := mount.New("").List()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range mps {
		if strings.HasPrefix(m.Path, dir+"/") {
			out = append(out, m.Path)
		}
	}
	return out
}

// AssertClean fails the test if a loop device backed by the state dir or a
// mount below the test's dirs is left.
func (h *Harness) AssertClean(t *testing.T) {
	t.Helper()
	if left := LoopsBackedUnder(t, h.StateDir); len(left) > 0 {
		t.Errorf("loop devices left attached: %v", left)
	}
	if left := MountsUnder(t, filepath.Dir(h.StateDir)); len(left) > 0 {
		t.Errorf("mounts left: %v", left)
	}
}
