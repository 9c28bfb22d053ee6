package driver

import (
	"context"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// recordingCarrier stands in for internal/kube's carrier.
type recordingCarrier struct {
	id  string
	m   map[string]string
	err error
}

func (c *recordingCarrier) VolumeNode(context.Context, string) (string, error) {
	return "node-2", c.err
}

func (c *recordingCarrier) CarryModify(_ context.Context, id string, m map[string]string) error {
	c.id, c.m = id, m
	return c.err
}

func TestControllerModifyVolumeAdvertised(t *testing.T) {
	d := newFakeDriver(t)
	resp, err := d.ControllerGetCapabilities(context.Background(), &csi.ControllerGetCapabilitiesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.GetCapabilities() {
		if c.GetRpc().GetType() == csi.ControllerServiceCapability_RPC_MODIFY_VOLUME {
			return
		}
	}
	t.Fatal("MODIFY_VOLUME is not advertised: csi-resizer would never call ControllerModifyVolume")
}

// TestCreateVolumeWithMutableParameters: a PVC created with a
// VolumeAttributesClass starts with the class's limits over the
// StorageClass's, and says so.
func TestCreateVolumeWithMutableParameters(t *testing.T) {
	d := newFakeDriver(t)
	ctx := context.Background()
	resp, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-vac", VolumeCapabilities: []*csi.VolumeCapability{testutil.MountCap("")},
		Parameters:        map[string]string{"writeBytesPerSecond": "10Mi", "readIOPS": "100"},
		MutableParameters: map[string]string{"writeBytesPerSecond": "50Mi", "readIOPS": "max"}})
	if err != nil {
		t.Fatal(err)
	}
	r := storedRecord(t, d, resp.GetVolume().GetVolumeId())
	if want := (throttle.Limits{WriteBytesPerSecond: 50 << 20}); r.Params.Limits != want || r.LimitsSource != volume.SourceVolumeAttributesClass {
		t.Errorf("record limits %+v from %s, want %+v from VolumeAttributesClass", r.Params.Limits, r.LimitsSource, want)
	}
	_, err = d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-bad-vac", VolumeCapabilities: []*csi.VolumeCapability{testutil.MountCap("")},
		MutableParameters: map[string]string{"scope": "volume"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `mutable_parameters: parameter "scope"`) {
		t.Errorf("CreateVolume with an immutable mutable parameter: %v, want InvalidArgument naming scope", err)
	}
}

// TestControllerModifyVolumeBadInput: the exact code and the key part of the
// message for each kind of bad request; the record stays as it was.
func TestControllerModifyVolumeBadInput(t *testing.T) {
	d := newFakeDriver(t)
	ctx := context.Background()
	id := createVolume(t, d, "pvc-bad", testutil.MountCap(""), map[string]string{"writeBytesPerSecond": "10Mi"})
	cases := []struct {
		name string
		id   string
		m    map[string]string
		code codes.Code
		frag string
	}{
		{"no volume id", "", map[string]string{"writeIOPS": "1"}, codes.InvalidArgument, "volume_id is required"},
		{"no parameters", id, nil, codes.InvalidArgument, "mutable_parameters are required"},
		{"bad bytes", id, map[string]string{"readBytesPerSecond": "lots"}, codes.InvalidArgument, `parameter "readBytesPerSecond"="lots": is not a Kubernetes quantity`},
		{"zero bytes", id, map[string]string{"writeBytesPerSecond": "0"}, codes.InvalidArgument, `use "max" to lift the limit`},
		{"negative bytes", id, map[string]string{"writeBytesPerSecond": "-5Mi"}, codes.InvalidArgument, "must be positive"},
		{"bad read IOPS", id, map[string]string{"readIOPS": "2.5"}, codes.InvalidArgument, `parameter "readIOPS"="2.5": must be a positive integer`},
		{"huge write IOPS", id, map[string]string{"writeIOPS": "99999999999"}, codes.InvalidArgument, "kernel's maximum"},
		{"immutable scope", id, map[string]string{"scope": "volume"}, codes.InvalidArgument, `parameter "scope": cannot change on an existing volume`},
		{"immutable fstype", id, map[string]string{"csi.storage.k8s.io/fstype": "xfs"}, codes.InvalidArgument, "cannot change on an existing volume"},
		{"immutable size", id, map[string]string{"size": "2Gi"}, codes.InvalidArgument, "cannot change on an existing volume"},
		{"unknown key", id, map[string]string{"XXX_FakeKey": "XXX_FakeValue"}, codes.InvalidArgument, "keys a VolumeAttributesClass may set: burstSeconds, elastic, latencyTarget, readBytesPerSecond,"},
		{"foreign id", "non-existing-volume-id", map[string]string{"writeIOPS": "1"}, codes.NotFound, "does not exist on node node-1"},
		{"unknown volume", "blkio-0000000000000000000000000000000000000000", map[string]string{"writeIOPS": "1"}, codes.NotFound, "does not exist on node node-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.ControllerModifyVolume(ctx, &csi.ControllerModifyVolumeRequest{VolumeId: c.id, MutableParameters: c.m})
			if status.Code(err) != c.code || !strings.Contains(status.Convert(err).Message(), c.frag) {
				t.Fatalf("ControllerModifyVolume = %v, want %s containing %q", err, c.code, c.frag)
			}
		})
	}
	r := storedRecord(t, d, id)
	if r.Params.Limits != (throttle.Limits{WriteBytesPerSecond: 10 << 20}) || r.LimitsSource != volume.SourceStorageClass {
		t.Errorf("record after refused changes: %+v from %s, want the StorageClass's limits", r.Params.Limits, r.LimitsSource)
	}
}

// TestControllerModifyVolumeUsesCarrier: with a carrier, valid changes go to
// it (the owning node applies them) and its answer is the RPC's answer;
// invalid ones never leave this node.
func TestControllerModifyVolumeUsesCarrier(t *testing.T) {
	d := newFakeDriver(t)
	c := &recordingCarrier{err: status.Error(codes.Unavailable, "node-2 has not applied it yet")}
	d.deps.Carrier = c
	ctx := context.Background()
	id := "blkio-0000000000000000000000000000000000000000"
	_, err := d.ControllerModifyVolume(ctx, &csi.ControllerModifyVolumeRequest{VolumeId: id, MutableParameters: map[string]string{"writeIOPS": "10"}})
	if status.Code(err) != codes.Unavailable || c.id != id || c.m["writeIOPS"] != "10" {
		t.Errorf("modify through carrier: %v, carried %s %v; want the carrier's Unavailable for %s", err, c.id, c.m, id)
	}
	c.id = ""
	_, err = d.ControllerModifyVolume(ctx, &csi.ControllerModifyVolumeRequest{VolumeId: id, MutableParameters: map[string]string{"writeIOPS": "x"}})
	if status.Code(err) != codes.InvalidArgument || c.id != "" {
		t.Errorf("bad parameters: %v, carried %q; want InvalidArgument and nothing carried", err, c.id)
	}
}

// TestModifyLimitsUpdatesEveryGroup: every group of the volume gets the new
// limits, and a ThrottleGroup override on one of them is replaced.
func TestModifyLimitsUpdatesEveryGroup(t *testing.T) {
	d := newFakeDriver(t)
	ctx := context.Background()
	id := createVolume(t, d, "pvc-shared", testutil.MountCap(""), map[string]string{"writeBytesPerSecond": "10Mi"})
	r := storedRecord(t, d, id)
	edited := throttle.Limits{ReadIOPS: 5}
	pods := []throttle.PodRef{{UID: "11111111-1111-1111-1111-111111111111", Name: "a"}, {UID: "22222222-2222-2222-2222-222222222222", Name: "b"}}
	r.Publications = map[string]volume.Publication{
		"/t/a": {TargetPath: "/t/a", Pod: pods[0]},
		"/t/b": {TargetPath: "/t/b", Pod: pods[1], Limits: &edited},
	}
	if err := d.deps.Store.Put(r); err != nil {
		t.Fatal(err)
	}
	ft := d.deps.Throttler.(*fakeThrottler)
	for _, p := range r.Publications {
		if _, err := ft.Ensure(ctx, r.Group(p), throttle.Spec{Limits: r.GroupLimits(r.Group(p)), Pod: p.Pod}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.ModifyLimits(ctx, id, map[string]string{"writeBytesPerSecond": "20Mi", "writeIOPS": "50"})
	if err != nil {
		t.Fatal(err)
	}
	want := throttle.Limits{WriteBytesPerSecond: 20 << 20, WriteIOPS: 50}
	if got != want {
		t.Errorf("ModifyLimits = %+v, want %+v", got, want)
	}
	for _, p := range pods {
		key := throttle.Key{VolumeID: id, PodUID: p.UID}
		if st, _ := ft.Get(key); st.Spec.Limits != want {
			t.Errorf("group %s holds %+v, want %+v", key, st.Spec.Limits, want)
		}
		if s := d.LimitsSource(key); s != volume.SourceVolumeAttributesClass {
			t.Errorf("group %s source %s, want VolumeAttributesClass", key, s)
		}
	}
}

// TestControllerExpandVolumeOfAnotherNode: csi-resizer's call for a volume
// on another node asks for node expansion (the owning node grows the
// backing file in NodeExpandVolume); without a PV it is NotFound.
func TestControllerExpandVolumeOfAnotherNode(t *testing.T) {
	d := newFakeDriver(t)
	c := &recordingCarrier{}
	d.deps.Carrier = c
	ctx := context.Background()
	id := "blkio-0000000000000000000000000000000000000000"
	resp, err := d.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: id, CapacityRange: &csi.CapacityRange{RequiredBytes: 2<<30 + 1}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetCapacityBytes() != 2<<30+1<<20 || !resp.GetNodeExpansionRequired() {
		t.Errorf("expand of another node's volume = %+v, want 2 GiB + 1 MiB (whole MiB) with node expansion", resp)
	}
	c.err = status.Error(codes.NotFound, "no PersistentVolume")
	if _, err := d.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: id, CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 30}}); status.Code(err) != codes.NotFound {
		t.Errorf("expand without a PV: %v, want NotFound", err)
	}
}
