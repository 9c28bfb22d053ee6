package reliability

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// A kill in the middle of a call, and the kubelet's retry of that call.
type midCall struct {
	point string
	// call is the interrupted RPC: stage, publish, unpublish, unstage or expand.
	call      string
	block     bool
	xfs       bool
	populated bool // data was written to the volume before (a volume being re-staged)
	// recovery is what the restarted plugin must report.
	recovery map[string]int
}

func (c midCall) name() string {
	n := c.point
	if c.block {
		n += "/block"
	}
	if c.populated {
		n += "/populated"
	}
	return n
}

// TestCrashMidCall kills the plugin (CSI_BLKIO_FAULT) at each point of
// NodeStageVolume, NodePublishVolume, NodeUnpublishVolume,
// NodeUnstageVolume and NodeExpandVolume, restarts it, and retries the call
// as the kubelet does. The retry succeeds; a volume has one loop device and
// a target one mount; a publication the record knows is throttled again
// right after the restart, before any retry (a volume is never published
// unthrottled); data written before reads back unchanged (a re-stage never
// reformats).
func TestCrashMidCall(t *testing.T) {
	orphanLoop := map[string]int{"orphan_loop_detached": 1}
	cases := []midCall{
		{point: "stage-after-attach", call: "stage", recovery: orphanLoop},
		{point: "stage-after-attach", call: "stage", populated: true, recovery: orphanLoop},
		{point: "stage-after-attach", call: "stage", block: true, populated: true, recovery: orphanLoop},
		{point: "stage-before-mount", call: "stage", recovery: orphanLoop},
		{point: "stage-before-mount", call: "stage", populated: true, recovery: orphanLoop},
		{point: "stage-after-mount", call: "stage", recovery: map[string]int{"orphan_loop_detached": 1, "orphan_mount_unmounted": 1}},
		{point: "stage-after-mount", call: "stage", populated: true, recovery: map[string]int{"orphan_loop_detached": 1, "orphan_mount_unmounted": 1}},
		{point: "publish-before-bind", call: "publish", populated: true, recovery: map[string]int{"group_restored": 1}},
		{point: "publish-before-bind", call: "publish", block: true, populated: true, recovery: map[string]int{"group_restored": 1}},
		{point: "publish-after-bind", call: "publish", populated: true, recovery: map[string]int{"group_restored": 1}},
		{point: "publish-after-bind", call: "publish", block: true, populated: true, recovery: map[string]int{"group_restored": 1}},
		{point: "publish-after-ensure", call: "publish", populated: true, recovery: map[string]int{"group_restored": 1}},
		{point: "unpublish-after-remove", call: "unpublish", populated: true, recovery: map[string]int{"group_restored": 1}},
		{point: "unstage-after-detach", call: "unstage", populated: true, recovery: map[string]int{"loop_device_missing": 1}},
		{point: "expand-after-refresh", call: "expand", xfs: true, populated: true, recovery: map[string]int{"group_restored": 1}},
	}
	for i, c := range cases {
		t.Run(c.name(), func(t *testing.T) { runMidCall(t, c, testutil.PodUID(200+i)) })
	}
}

func runMidCall(t *testing.T, c midCall, uid string) {
	e := newEnv(t)
	pod := e.podCgroup(t, uid)
	size := int64(64 << 20)
	params := map[string]string{"writeBytesPerSecond": "8Mi"}
	if c.xfs {
		size = 300 << 20
		params["csi.storage.k8s.io/fstype"] = "xfs"
	}
	target := e.target(uid, "v")
	data := filepath.Join(target, "data")
	if c.block {
		data = target
	}

	// Before: the volume as the interrupted call finds it.
	p := e.start(t)
	v := e.createVolume(t, p, "v", size, c.block, params)
	if c.xfs {
		v.fsType = "xfs"
	}
	sum := ""
	if c.populated {
		stageAndPublish(t, p, v, uid, target)
		sum = writeData(t, data, 4<<20)
		if c.call == "stage" {
			must(t, "NodeUnpublishVolume", unpublishErr(p, v, target))
			must(t, "NodeUnstageVolume", unstageErr(p, v))
		}
		if c.call == "publish" || c.call == "unstage" {
			must(t, "NodeUnpublishVolume", unpublishErr(p, v, target))
		}
	} else if c.call != "stage" {
		t.Fatal("case needs a populated volume")
	}
	p.stop(t)

	// The call, killed at the point.
	p = e.start(t, "CSI_BLKIO_FAULT="+c.point+":kill")
	err := midCallRPC(p, c, v, uid, target)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("%s with the plugin killed at %s: %v, want Unavailable (the connection broke)", c.call, c.point, err)
	}
	p.waitFault(t, c.point)

	// Restart: recovery, then the kubelet's retry.
	p = e.start(t)
	p.wantRecovery(t, c.recovery)
	if c.call == "publish" || c.call == "unpublish" || c.call == "expand" {
		// The record says published: throttled again before any retry.
		wantLimits(t, pod, devNum(t, e.loopOf(t, v)), writeLimit)
	}
	must(t, "retried "+c.call, midCallRPC(p, c, v, uid, target))

	switch c.call {
	case "stage":
		must(t, "NodePublishVolume", publishErr(p, v, uid, target))
	case "unpublish":
		wantLimits(t, pod, devNum(t, e.loopOf(t, v)), throttle.Limits{})
		if ids := mountIDs(t, target); len(ids) != 0 {
			t.Errorf("target still mounted after the retried unpublish: %v", ids)
		}
		must(t, "NodeUnstageVolume", unstageErr(p, v))
		must(t, "DeleteVolume", deleteErr(p, v))
		e.assertNothingLeft(t)
		p.stop(t)
		return
	case "unstage":
		if devs := boundTo(t, e.backing(v)); len(devs) != 0 {
			t.Errorf("loop devices bound after the retried unstage: %v", devs)
		}
		stageAndPublish(t, p, v, uid, target)
	}
	// Published once more, on one loop device, with its limit and data.
	dev := devNum(t, e.loopOf(t, v))
	if ids := mountIDs(t, target); len(ids) != 1 {
		t.Errorf("target mounted %d times, want once", len(ids))
	}
	wantLimits(t, pod, dev, writeLimit)
	ctr := e.container(t, uid, "ctr")
	waitLimits(t, ctr, dev, writeLimit)
	if sum != "" {
		if got := readSum(t, data, 4<<20); got != sum {
			t.Errorf("data written before the crash reads back with sha256 %s, want %s", got, sum)
		}
	}
	if reasons := healthReasons(t, p, v); len(reasons) > 0 {
		t.Errorf("volume unhealthy after the retry: %v", reasons)
	}
	teardown(t, p, v, target)
	wantLimits(t, pod, dev, throttle.Limits{})
	e.assertNothingLeft(t)
	p.stop(t)
}

// expandTo is the size the expand cases grow an xfs volume to.
const expandTo = 400 << 20

func midCallRPC(p *plugin, c midCall, v vol, uid, target string) error {
	switch c.call {
	case "stage":
		return stageErr(p, v)
	case "publish":
		return publishErr(p, v, uid, target)
	case "unpublish":
		return unpublishErr(p, v, target)
	case "unstage":
		return unstageErr(p, v)
	case "expand":
		ctx, cancel := rpcCtx()
		defer cancel()
		cr := &csi.CapacityRange{RequiredBytes: expandTo}
		if _, err := p.controller().ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: v.id, CapacityRange: cr}); err != nil {
			return err
		}
		resp, err := p.node().NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: v.id, VolumePath: target,
			StagingTargetPath: v.staging, CapacityRange: cr, VolumeCapability: testutil.Cap(v.block, v.fsType)})
		if err == nil && resp.GetCapacityBytes() != expandTo {
			return fmt.Errorf("NodeExpandVolume reports %d bytes, want %d", resp.GetCapacityBytes(), expandTo)
		}
		if err == nil {
			return checkGrown(p, v, target)
		}
		return err
	}
	panic("unknown call " + c.call)
}

// checkGrown asserts that the filesystem at target sees the new size.
func checkGrown(p *plugin, v vol, target string) error {
	ctx, cancel := rpcCtx()
	defer cancel()
	st, err := p.node().NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: v.id, VolumePath: target})
	if err != nil {
		return err
	}
	for _, u := range st.GetUsage() {
		if u.GetUnit() == csi.VolumeUsage_BYTES && u.GetTotal() < expandTo-(64<<20) {
			return fmt.Errorf("filesystem holds %d bytes after growing the volume to %d", u.GetTotal(), expandTo)
		}
	}
	return nil
}
