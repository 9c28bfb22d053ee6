package driver

import (
	"context"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func mountCap() *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}
}

func blockCap() *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}
}

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

// TestBadInput drives every RPC with bad inputs (malformed IDs and paths,
// unknown and malformed parameters, wrong capabilities) and
// asserts the exact code and the part of the message that tells the user
// what to do. Validation runs before any side effect, so fakes suffice.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	d := newFakeDriver(t)
	block, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "blockvol", VolumeCapabilities: []*csi.VolumeCapability{blockCap()}})
	if err != nil {
		t.Fatal(err)
	}
	blockID := block.GetVolume().GetVolumeId()
	long := strings.Repeat("a", 4096)
	multiNode := mountCap()
	multiNode.AccessMode.Mode = csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER
	create := func(params map[string]string, caps ...*csi.VolumeCapability) func() error {
		return func() error {
			if caps == nil {
				caps = []*csi.VolumeCapability{mountCap()}
			}
			_, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "v", VolumeCapabilities: caps, Parameters: params,
				CapacityRange: &csi.CapacityRange{RequiredBytes: 64 << 20}})
			return err
		}
	}
	stage := func(id, path string, c *csi.VolumeCapability) func() error {
		return func() error {
			_, err := d.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: id, StagingTargetPath: path, VolumeCapability: c})
			return err
		}
	}
	publish := func(id, target string, c *csi.VolumeCapability, vc map[string]string) func() error {
		return func() error {
			_, err := d.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: target,
				StagingTargetPath: "/staging", VolumeCapability: c, VolumeContext: vc})
			return err
		}
	}
	cases := []struct {
		name  string
		call  func() error
		code  codes.Code
		frags []string
	}{
		{"unknown parameter", create(map[string]string{"writeBPS": "1Mi"}), codes.InvalidArgument,
			[]string{`"writeBPS"`, "accepted keys:", "writeBytesPerSecond"}},
		{"bad quantity", create(map[string]string{"readBytesPerSecond": "fast"}), codes.InvalidArgument,
			[]string{`"readBytesPerSecond"="fast"`, `example of a good value: readBytesPerSecond: "10Mi"`}},
		{"negative quantity", create(map[string]string{"writeBytesPerSecond": "-10Mi"}), codes.InvalidArgument, []string{"must be positive"}},
		{"overflowing quantity", create(map[string]string{"writeBytesPerSecond": "99999Ei"}), codes.InvalidArgument, []string{"larger than"}},
		{"negative IOPS", create(map[string]string{"writeIOPS": "-100"}), codes.InvalidArgument,
			[]string{`"writeIOPS"="-100"`, "positive integer", `example of a good value: writeIOPS: "500"`}},
		{"size on a PVC", create(map[string]string{"size": "1Gi"}), codes.InvalidArgument, []string{"only for inline"}},
		{"4 KiB parameter key", create(map[string]string{long: "1"}), codes.InvalidArgument, []string{"not a parameter"}},
		{"size beyond capacity", func() error {
			_, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "huge", VolumeCapabilities: []*csi.VolumeCapability{mountCap()},
				CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 61}})
			return err
		}, codes.ResourceExhausted, []string{"does not fit", "free"}},
		{"required above limit", func() error {
			_, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "r", VolumeCapabilities: []*csi.VolumeCapability{mountCap()},
				CapacityRange: &csi.CapacityRange{RequiredBytes: 10 << 20, LimitBytes: 5 << 20}})
			return err
		}, codes.InvalidArgument, []string{"exceeds limit_bytes"}},
		{"limit below a whole MiB", func() error {
			_, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "r", VolumeCapabilities: []*csi.VolumeCapability{mountCap()},
				CapacityRange: &csi.CapacityRange{RequiredBytes: 1000, LimitBytes: 2000}})
			return err
		}, codes.OutOfRange, []string{"whole MiB"}},
		{"missing name", func() error {
			_, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{VolumeCapabilities: []*csi.VolumeCapability{mountCap()}})
			return err
		}, codes.InvalidArgument, []string{"name is required"}},
		{"missing capability on create", func() error {
			_, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "v"})
			return err
		}, codes.InvalidArgument, []string{"volume_capabilities are required"}},
		{"multi-node access mode", create(nil, multiNode), codes.InvalidArgument, []string{"MULTI_NODE_MULTI_WRITER", "SINGLE_NODE_*"}},
		{"block and mount mixed", create(nil, mountCap(), blockCap()), codes.InvalidArgument, []string{"mix block and mount"}},
		{"capability without access type", create(nil, &csi.VolumeCapability{AccessMode: mountCap().AccessMode}), codes.InvalidArgument, []string{"mount or block"}},
		{"unsupported fs_type", create(nil, &csi.VolumeCapability{
			AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: "btrfs"}},
			AccessMode: mountCap().AccessMode}), codes.InvalidArgument, []string{`"btrfs"`, `"ext4" or "xfs"`}},
		{"volume_id ../../etc on delete", func() error {
			_, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: "../../etc"})
			return err
		}, codes.InvalidArgument, []string{`"../../etc"`, "not a volume of this driver"}},
		{"volume_id ../../etc on stage", stage("../../etc", "/staging", mountCap()), codes.InvalidArgument, []string{"not a volume of this driver"}},
		{"volume_id ../../etc on publish", publish("../../etc", "/target", mountCap(), nil), codes.InvalidArgument, []string{"not a volume of this driver"}},
		{"volume_id ../../etc on unpublish", func() error {
			_, err := d.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "../../etc", TargetPath: "/target"})
			return err
		}, codes.InvalidArgument, []string{"not a volume of this driver"}},
		{"volume_id ../../etc on stats", func() error {
			_, err := d.NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: "../../etc", VolumePath: "/target"})
			return err
		}, codes.InvalidArgument, []string{"not a volume of this driver"}},
		{"volume_id ../../etc on expand", func() error {
			_, err := d.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: "../../etc", CapacityRange: &csi.CapacityRange{RequiredBytes: 1}})
			return err
		}, codes.InvalidArgument, []string{"not a volume of this driver"}},
		{"volume_id with NUL", stage("blkio-\x00", "/staging", mountCap()), codes.InvalidArgument, []string{"not a volume of this driver"}},
		{"4 KiB volume_id", stage(long, "/staging", mountCap()), codes.InvalidArgument, []string{"not a volume of this driver", "..."}},
		{"unknown volume on stage", stage("blkio-0000", "/staging", mountCap()), codes.NotFound, []string{"does not exist"}},
		{"relative target path", publish(blockID, "relative/target", blockCap(), nil), codes.InvalidArgument, []string{"target_path", "absolute"}},
		{"target path with ..", publish(blockID, "/var/lib/kubelet/../../etc", blockCap(), nil), codes.InvalidArgument, []string{`".."`}},
		{"target path with NUL", publish(blockID, "/t\x00x", blockCap(), nil), codes.InvalidArgument, []string{"NUL"}},
		{"4 KiB+ target path", publish(blockID, "/"+long, blockCap(), nil), codes.InvalidArgument, []string{"longer than 4096"}},
		{"relative staging path", stage(blockID, "staging", blockCap()), codes.InvalidArgument, []string{"staging_target_path", "absolute"}},
		{"missing capability on stage", stage(blockID, "/staging", nil), codes.InvalidArgument, []string{"volume_capability is required"}},
		{"missing capability on publish", publish(blockID, "/target", nil, nil), codes.InvalidArgument, []string{"volume_capability is required"}},
		{"block volume staged as filesystem", stage(blockID, "/staging", mountCap()), codes.InvalidArgument,
			[]string{"created for block access", "mount access", "volumeMode Block"}},
		{"block volume published as filesystem", publish(blockID, "/target", mountCap(), nil), codes.InvalidArgument, []string{"created for block access"}},
		{"publish before stage", publish(blockID, "/target", blockCap(), nil), codes.FailedPrecondition, []string{"NodeStageVolume first"}},
		{"bad pod UID", publish(blockID, "/target", blockCap(), map[string]string{ctxPodUID: "../../x"}), codes.InvalidArgument, []string{"not a pod UID"}},
		{"inline with bad parameter", publish("csi-abc", "/target", mountCap(), map[string]string{ctxEphemeral: "true", "size": "lots"}),
			codes.InvalidArgument, []string{`"size"="lots"`, `"1Gi"`}},
		{"inline block", publish("csi-abc", "/target", blockCap(), map[string]string{ctxEphemeral: "true"}),
			codes.InvalidArgument, []string{"volumeMode Block"}},
		{"invalid list token", func() error {
			_, err := d.ListVolumes(ctx, &csi.ListVolumesRequest{StartingToken: "../../etc"})
			return err
		}, codes.Aborted, []string{"list again without a token"}},
		{"stats of a path that is not the volume's", func() error {
			_, err := d.NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: blockID, VolumePath: "/etc"})
			return err
		}, codes.NotFound, []string{"neither staged nor published at"}},
		{"shrink", func() error {
			_, err := d.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: blockID,
				CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 20, LimitBytes: 1 << 20}})
			return err
		}, codes.OutOfRange, []string{"shrinking is not supported"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantStatus(t, c.call(), c.code, c.frags...) })
	}
}

func TestSameNameDifferentRequestIsAlreadyExists(t *testing.T) {
	ctx := context.Background()
	d := newFakeDriver(t)
	req := &csi.CreateVolumeRequest{Name: "pvc-1", VolumeCapabilities: []*csi.VolumeCapability{mountCap()},
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

func TestConcurrentCallOnSameVolumeIsAborted(t *testing.T) {
	ctx := context.Background()
	d := newFakeDriver(t)
	v, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "busy", VolumeCapabilities: []*csi.VolumeCapability{blockCap()}})
	if err != nil {
		t.Fatal(err)
	}
	id := v.GetVolume().GetVolumeId()
	release, ok := d.inflight.acquire(id) // an operation is running
	if !ok {
		t.Fatal("could not claim the volume")
	}
	_, err = d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id})
	wantStatus(t, err, codes.Aborted, "in progress", "retry")
	_, err = d.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: id, StagingTargetPath: "/s", VolumeCapability: blockCap()})
	wantStatus(t, err, codes.Aborted)
	release()
	if _, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
		t.Fatalf("DeleteVolume after release: %v", err)
	}
}

func TestDeleteInUseIsFailedPrecondition(t *testing.T) {
	ctx := context.Background()
	d := newFakeDriver(t)
	v, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "used", VolumeCapabilities: []*csi.VolumeCapability{blockCap()}})
	if err != nil {
		t.Fatal(err)
	}
	id := v.GetVolume().GetVolumeId()
	staging := t.TempDir()
	if _, err := d.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: id, StagingTargetPath: staging, VolumeCapability: blockCap()}); err != nil {
		t.Fatal(err)
	}
	_, err = d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id})
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
