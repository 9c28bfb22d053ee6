package driver

import (
	"context"
	"fmt"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestListVolumesPagesSurviveDeletion: tokens name the last ID returned, so
// deleting that volume between pages neither repeats nor skips the rest.
func TestListVolumesPagesSurviveDeletion(t *testing.T) {
	ctx := context.Background()
	d := newFakeDriver(t)
	for i := range 5 {
		if _, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: fmt.Sprint("v", i),
			VolumeCapabilities: []*csi.VolumeCapability{testutil.BlockCap()}, CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 20}}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := d.ListVolumes(ctx, &csi.ListVolumesRequest{MaxEntries: 2})
	if err != nil || len(page.GetEntries()) != 2 || page.GetNextToken() == "" {
		t.Fatalf("first page = %v, %v", page, err)
	}
	seen := map[string]bool{}
	for _, e := range page.GetEntries() {
		seen[e.GetVolume().GetVolumeId()] = true
		if _, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: e.GetVolume().GetVolumeId()}); err != nil {
			t.Fatal(err)
		}
	}
	rest, err := d.ListVolumes(ctx, &csi.ListVolumesRequest{StartingToken: page.GetNextToken()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.GetEntries()) != 3 || rest.GetNextToken() != "" {
		t.Fatalf("second page = %v; want the 3 remaining volumes and no token", rest)
	}
	for _, e := range rest.GetEntries() {
		if seen[e.GetVolume().GetVolumeId()] {
			t.Errorf("volume %s listed twice", e.GetVolume().GetVolumeId())
		}
		if got := e.GetVolume().GetAccessibleTopology()[0].GetSegments()[TopologyKey]; got != "node-1" {
			t.Errorf("topology %q, want node-1", got)
		}
	}
}
