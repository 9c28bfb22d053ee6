package driver_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestKernelUpdateLimits: a live limit change reaches the kernel and the
// volume record, and a repeated NodePublishVolume (kubelet's retry, or its
// periodic re-publish) keeps the changed limits instead of the
// StorageClass's.
func TestKernelUpdateLimits(t *testing.T) {
	e := newKernelEnv(t)
	ctx := context.Background()
	v := e.newPodVolume(t, testutil.PodUID(7))
	id, key := v.id, v.key
	kernel := func() string { return throttleFile(t, v.pod, "write_bps_device") }
	want := fmt.Sprintf("%s %d", v.dev, 4<<20)

	if err := e.h.Driver.UpdateLimits(ctx, key, throttle.Limits{WriteBytesPerSecond: 4 << 20, ReadIOPS: 100}); err != nil {
		t.Fatal(err)
	}
	if got := kernel(); got != want {
		t.Errorf("pod cgroup write_bps_device = %q after UpdateLimits, want %q", got, want)
	}
	if got := drivertest.ReadRecord(t, e.h.StateDir, id).GroupLimits(key); got != (throttle.Limits{WriteBytesPerSecond: 4 << 20, ReadIOPS: 100}) {
		t.Errorf("persisted group limits %+v, want the override", got)
	}

	if _, err := e.h.Node().NodePublishVolume(ctx, v.publish); err != nil {
		t.Fatalf("repeated publish: %v", err)
	}
	if got := kernel(); got != want {
		t.Errorf("pod cgroup write_bps_device = %q after a repeated publish, want the live limit %q", got, want)
	}

	err := e.h.Driver.UpdateLimits(ctx, throttle.Key{VolumeID: id, PodUID: testutil.PodUID(8)}, throttle.Limits{})
	if status.Code(err) != codes.NotFound {
		t.Errorf("UpdateLimits for a pod without a publication: %v, want NotFound", err)
	}
}
