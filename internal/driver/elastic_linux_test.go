package driver_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestKernelElasticParametersReachTheGroup: latencyTarget and elastic of an
// inline volume end up in its throttle group's spec (where the elastic
// controller reads them); a bad value is refused with InvalidArgument
// naming the key.
func TestKernelElasticParametersReachTheGroup(t *testing.T) {
	e := newKernelEnv(t)
	ctx := context.Background()
	node := e.h.Node()
	for i, c := range []struct {
		attrs   map[string]string
		target  time.Duration
		elastic bool
	}{
		{map[string]string{"latencyTarget": "2ms"}, 2 * time.Millisecond, false},
		{map[string]string{"writeBytesPerSecond": "8Mi", "elastic": "true"}, 0, true},
	} {
		uid := testutil.PodUID(40 + i)
		e.podCgroup(t, uid)
		id := "csi-" + strings.ReplaceAll(uid, "-", "")
		target := filepath.Join(e.h.WorkDir, "pods", uid, "inline")
		vc := testutil.PodContext(uid, "writer", "default")
		vc["csi.storage.k8s.io/ephemeral"], vc["size"] = "true", "16Mi"
		for k, v := range c.attrs {
			vc[k] = v
		}
		if _, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: target,
			VolumeCapability: testutil.MountCap(""), VolumeContext: vc}); err != nil {
			t.Fatal(err)
		}
		st, ok := e.table.Get(throttle.Key{VolumeID: id, PodUID: uid})
		if !ok || st.Spec.LatencyTarget != c.target || st.Spec.Elastic != c.elastic {
			t.Errorf("%v: group spec latencyTarget=%v elastic=%v (found %v), want %v %v", c.attrs, st.Spec.LatencyTarget, st.Spec.Elastic, ok, c.target, c.elastic)
		}
		if _, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: target}); err != nil {
			t.Fatal(err)
		}
	}

	uid := testutil.PodUID(49)
	vc := testutil.PodContext(uid, "writer", "default")
	vc["csi.storage.k8s.io/ephemeral"], vc["latencyTarget"] = "true", "2"
	_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "csi-bad", TargetPath: filepath.Join(e.h.WorkDir, "bad"),
		VolumeCapability: testutil.MountCap(""), VolumeContext: vc})
	if s, _ := status.FromError(err); s.Code() != codes.InvalidArgument || !strings.Contains(s.Message(), `"latencyTarget"="2": needs a unit`) {
		t.Errorf("latencyTarget=2: %v, want InvalidArgument naming the key, the value and the missing unit", err)
	}
	e.assertNothingLeft(t)
}
