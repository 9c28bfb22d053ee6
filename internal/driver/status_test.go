package driver

import (
	"context"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

func wantStatus(t *testing.T, err error, code codes.Code, frags ...string) {
	t.Helper()
	s, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v is not a gRPC status", err)
	}
	if s.Code() != code {
		t.Fatalf("code = %s (%q), want %s", s.Code(), s.Message(), code)
	}
	for _, f := range frags {
		if !strings.Contains(s.Message(), f) {
			t.Errorf("message %q lacks %q", s.Message(), f)
		}
	}
}

func TestSameNameDifferentRequestIsAlreadyExists(t *testing.T) {
	ctx := context.Background()
	d := newFakeDriver(t)
	req := &csi.CreateVolumeRequest{Name: "pvc-1", VolumeCapabilities: []*csi.VolumeCapability{testutil.MountCap("")},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 10 << 20}, Parameters: map[string]string{"writeIOPS": "100"}}
	first, err := d.CreateVolume(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := d.CreateVolume(ctx, req)
	if err != nil || again.GetVolume().GetVolumeId() != first.GetVolume().GetVolumeId() {
		t.Fatalf("repeated CreateVolume = %v, %v; want the same volume", again, err)
	}
	req.Parameters = map[string]string{"writeIOPS": "200"}
	_, err = d.CreateVolume(ctx, req)
	wantStatus(t, err, codes.AlreadyExists, `"pvc-1"`, "different parameters")
	req.Parameters = map[string]string{"writeIOPS": "100"}
	req.CapacityRange.RequiredBytes = 20 << 20
	_, err = d.CreateVolume(ctx, req)
	wantStatus(t, err, codes.AlreadyExists, "capacity")
}

// createVolume creates a volume with one capability and the StorageClass
// parameters params, and returns its ID.
func createVolume(t *testing.T, d *Driver, name string, c *csi.VolumeCapability, params map[string]string) string {
	t.Helper()
	v, err := d.CreateVolume(context.Background(), &csi.CreateVolumeRequest{Name: name, VolumeCapabilities: []*csi.VolumeCapability{c}, Parameters: params})
	if err != nil {
		t.Fatal(err)
	}
	return v.GetVolume().GetVolumeId()
}

// storedRecord is the record of volume id in d's store.
func storedRecord(t *testing.T, d *Driver, id string) *volume.Record {
	t.Helper()
	r, err := d.deps.Store.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConcurrentCallOnSameVolumeIsAborted(t *testing.T) {
	ctx := context.Background()
	d := newFakeDriver(t)
	id := createVolume(t, d, "busy", testutil.BlockCap(), nil)
	release, ok := d.inflight.acquire(id) // an operation is running
	if !ok {
		t.Fatal("could not claim the volume")
	}
	_, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id})
	wantStatus(t, err, codes.Aborted, "in progress", "retry")
	_, err = d.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: id, StagingTargetPath: "/s", VolumeCapability: testutil.BlockCap()})
	wantStatus(t, err, codes.Aborted)
	release()
	if _, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
		t.Fatalf("DeleteVolume after release: %v", err)
	}
}

func TestDeleteInUseIsFailedPrecondition(t *testing.T) {
	ctx := context.Background()
	d := newFakeDriver(t)
	id := createVolume(t, d, "used", testutil.BlockCap(), nil)
	staging := t.TempDir()
	if _, err := d.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: id, StagingTargetPath: staging, VolumeCapability: testutil.BlockCap()}); err != nil {
		t.Fatal(err)
	}
	_, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id})
	wantStatus(t, err, codes.FailedPrecondition, "staged at "+staging, "unstage it first")
	if _, err := d.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: id, StagingTargetPath: staging}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
		t.Fatalf("second DeleteVolume: %v", err)
	}
}
