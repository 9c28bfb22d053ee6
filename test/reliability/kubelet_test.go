package reliability

import (
	"context"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// vol is a volume as the kubelet knows it: its ID, access type and
// staging path.
type vol struct {
	id      string
	block   bool
	fsType  string // "" is the driver's default (ext4)
	staging string
}

func rpcCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 60*time.Second)
}

// createVolume is the external-provisioner's CreateVolume.
func (e *env) createVolume(t *testing.T, p *plugin, name string, size int64, block bool, params map[string]string) vol {
	t.Helper()
	v := vol{block: block, staging: e.staging(name)}
	ctx, cancel := rpcCtx()
	defer cancel()
	resp, err := p.controller().CreateVolume(ctx, &csi.CreateVolumeRequest{
		Name: testutil.Prefix + "-" + name, VolumeCapabilities: []*csi.VolumeCapability{testutil.Cap(v.block, v.fsType)},
		CapacityRange: &csi.CapacityRange{RequiredBytes: size}, Parameters: params,
	})
	if err != nil {
		t.Fatalf("CreateVolume %s: %v", name, err)
	}
	v.id = resp.GetVolume().GetVolumeId()
	return v
}

func stageErr(p *plugin, v vol) error {
	ctx, cancel := rpcCtx()
	defer cancel()
	_, err := p.node().NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: v.id, StagingTargetPath: v.staging, VolumeCapability: testutil.Cap(v.block, v.fsType)})
	return err
}

func publishErr(p *plugin, v vol, uid, target string) error {
	ctx, cancel := rpcCtx()
	defer cancel()
	_, err := p.node().NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: v.id, StagingTargetPath: v.staging,
		TargetPath: target, VolumeCapability: testutil.Cap(v.block, v.fsType), VolumeContext: testutil.PodContext(uid, "pod-"+uid[:8], "default")})
	return err
}

func unpublishErr(p *plugin, v vol, target string) error {
	ctx, cancel := rpcCtx()
	defer cancel()
	_, err := p.node().NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: v.id, TargetPath: target})
	return err
}

func unstageErr(p *plugin, v vol) error {
	ctx, cancel := rpcCtx()
	defer cancel()
	_, err := p.node().NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: v.id, StagingTargetPath: v.staging})
	return err
}

func deleteErr(p *plugin, v vol) error {
	ctx, cancel := rpcCtx()
	defer cancel()
	_, err := p.controller().DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: v.id})
	return err
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// stageAndPublish is the kubelet's way to a running pod's volume: stage
// it on the node, then publish it at the pod's target.
func stageAndPublish(t *testing.T, p *plugin, v vol, uid, target string) {
	t.Helper()
	must(t, "NodeStageVolume", stageErr(p, v))
	must(t, "NodePublishVolume", publishErr(p, v, uid, target))
}

// teardown is the kubelet's and provisioner's cleanup of one publication:
// unpublish, unstage, delete.
func teardown(t *testing.T, p *plugin, v vol, targets ...string) {
	t.Helper()
	for _, target := range targets {
		must(t, "NodeUnpublishVolume "+target, unpublishErr(p, v, target))
	}
	must(t, "NodeUnstageVolume", unstageErr(p, v))
	must(t, "DeleteVolume", deleteErr(p, v))
}

// healthReasons returns the reasons NodeGetVolumeHealth reports.
func healthReasons(t *testing.T, p *plugin, v vol) []string {
	t.Helper()
	ctx, cancel := rpcCtx()
	defer cancel()
	resp, err := p.node().NodeGetVolumeHealth(ctx, &csi.NodeGetVolumeHealthRequest{VolumeId: v.id})
	if err != nil {
		t.Fatalf("NodeGetVolumeHealth: %v", err)
	}
	var out []string
	for _, h := range resp.GetVolumeHealth().GetHealthStatuses() {
		out = append(out, h.GetReason()+": "+h.GetMessage())
	}
	return out
}
