package driver_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// TestKernelModifyVolume: a VolumeAttributesClass change (standalone: no
// carrier) reaches the kernel of a running pod and the record; it replaces
// a ThrottleGroup edit (the newest change wins); "max" lifts a limit; bad
// parameters leave the kernel and the record as they were.
func TestKernelModifyVolume(t *testing.T) {
	e := newKernelEnv(t)
	ctx := context.Background()
	v := e.newPodVolume(t, testutil.PodUID(9))
	id, key, dev := v.id, v.key, v.dev
	kernel := func(file string) string { return throttleFile(t, v.pod, file) }
	source := func() volume.LimitsSource {
		return drivertest.ReadRecord(t, e.h.StateDir, id).GroupLimitsSource(key)
	}
	modify := func(m map[string]string) error {
		_, err := e.h.Controller().ControllerModifyVolume(ctx, &csi.ControllerModifyVolumeRequest{VolumeId: id, MutableParameters: m})
		return err
	}

	if got := source(); got != volume.SourceStorageClass {
		t.Errorf("source before any change = %s, want StorageClass", got)
	}
	if err := modify(map[string]string{"writeBytesPerSecond": "32Mi", "readIOPS": "300"}); err != nil {
		t.Fatal(err)
	}
	if got, want := kernel("write_bps_device"), fmt.Sprintf("%s %d", dev, 32<<20); got != want {
		t.Errorf("write_bps_device = %q after modify, want %q", got, want)
	}
	if got, want := kernel("read_iops_device"), fmt.Sprintf("%s 300", dev); got != want {
		t.Errorf("read_iops_device = %q after modify, want %q", got, want)
	}
	if got := source(); got != volume.SourceVolumeAttributesClass {
		t.Errorf("source after modify = %s, want VolumeAttributesClass", got)
	}

	// A ThrottleGroup edit wins for its pod until the next class change.
	if err := e.h.Driver.UpdateLimits(ctx, key, throttle.Limits{WriteBytesPerSecond: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	if got := source(); got != volume.SourceThrottleGroup {
		t.Errorf("source after a ThrottleGroup edit = %s, want ThrottleGroup", got)
	}
	if err := modify(map[string]string{"readIOPS": "max"}); err != nil {
		t.Fatal(err)
	}
	if got, want := kernel("write_bps_device"), fmt.Sprintf("%s %d", dev, 32<<20); got != want {
		t.Errorf("write_bps_device = %q after a class change over a ThrottleGroup edit, want the class's %q", got, want)
	}
	if got := kernel("read_iops_device"); got != "" {
		t.Errorf("read_iops_device = %q after readIOPS: max, want no entry", got)
	}

	// Bad input: InvalidArgument, nothing moves.
	for _, m := range []map[string]string{{"writeBytesPerSecond": "fast"}, {"scope": "volume"}, {"writeIOPS": "10", "noSuchKey": "1"}} {
		err := modify(m)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("modify %v: %v, want InvalidArgument", m, err)
		}
	}
	if got, want := kernel("write_bps_device"), fmt.Sprintf("%s %d", dev, 32<<20); got != want {
		t.Errorf("write_bps_device = %q after refused changes, want %q", got, want)
	}
	if got := kernel("write_iops_device"); got != "" {
		t.Errorf("write_iops_device = %q after a refused change, want no entry", got)
	}

	// The record carries the change: a re-publish keeps it.
	if _, err := e.h.Node().NodePublishVolume(ctx, v.publish); err != nil {
		t.Fatal(err)
	}
	if got, want := kernel("write_bps_device"), fmt.Sprintf("%s %d", dev, 32<<20); got != want {
		t.Errorf("write_bps_device = %q after a re-publish, want %q", got, want)
	}
}
