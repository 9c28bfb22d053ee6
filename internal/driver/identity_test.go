package driver

import (
	"context"
	"errors"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
)

// TestProbeReportsNotReady: a failing readiness check is an answer
// (Ready=false), not an error; a passing one is Ready=true.
func TestProbeReportsNotReady(t *testing.T) {
	d := newFakeDriver(t)
	d.deps.Ready = func(context.Context) error { return errors.New("no cgroup IO controller") }
	resp, err := d.Probe(context.Background(), &csi.ProbeRequest{})
	if err != nil || resp.GetReady().GetValue() {
		t.Fatalf("Probe = %v, %v; want Ready=false and no error", resp, err)
	}
	d.deps.Ready = func(context.Context) error { return nil }
	resp, err = d.Probe(context.Background(), &csi.ProbeRequest{})
	if err != nil || !resp.GetReady().GetValue() {
		t.Fatalf("Probe = %v, %v; want Ready=true", resp, err)
	}
	info, err := d.GetPluginInfo(context.Background(), &csi.GetPluginInfoRequest{})
	if err != nil || info.GetName() != "blkio.csi.dev" || info.GetVendorVersion() != "test" {
		t.Fatalf("GetPluginInfo = %v, %v", info, err)
	}
}
