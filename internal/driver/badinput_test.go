package driver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// rpcCase is one malformed call through the gRPC surface (interceptor
// included, so a panic or an unset code would show as what a CO sees).
type rpcCase struct {
	rpc   string // method name as in the service descriptor
	name  string
	call  func(context.Context) error
	code  codes.Code
	frags []string // parts of the message, each of which must be in it
}

// Malformed IDs, paths, capabilities and parameters: traversal, NUL bytes,
// 4 KiB strings, shapes of other drivers' IDs, negative and overflowing
// quantities, unknown keys, conflicting access modes.
var (
	kib4 = strings.Repeat("a", 4096)

	badIDs = []struct{ name, id string }{
		{"empty", ""}, {"traversal", "../../etc"}, {"dot-dot", ".."}, {"dot", "."}, {"absolute", "/etc/passwd"},
		{"slash", "blkio-a/b"}, {"NUL", "blkio-\x00"}, {"4 KiB", kib4}, {"upper case", "BLKIO-A"},
		{"space", "blkio a"}, {"unicode", "blkio-é"}, {"leading dash", "-blkio"}, {"json suffix", "blkio.json"},
	}
	badPaths = []struct{ name, path, frag string }{
		{"empty", "", "is required"}, {"relative", "var/lib/kubelet", "absolute path"},
		{"traversal", "/var/lib/kubelet/../../../etc", `".."`}, {"trailing dot-dot", "/var/lib/..", `".."`},
		{"NUL", "/var/lib/kubelet\x00/x", "NUL byte"}, {"over PATH_MAX", "/" + kib4, "longer than 4096"},
	}
	badParams = []struct {
		name   string
		params map[string]string
		frag   string
	}{
		{"unknown key", map[string]string{"writeBPS": "1Mi"}, "accepted keys"},
		{"traversal key", map[string]string{"../../etc": "x"}, "not a parameter"},
		{"NUL in value", map[string]string{"readIOPS": "1\x000"}, `"readIOPS"`},
		{"4 KiB key", map[string]string{kib4: "1"}, "not a parameter"},
		{"4 KiB value", map[string]string{"writeBytesPerSecond": kib4}, `"writeBytesPerSecond"`},
		{"negative bytes", map[string]string{"readBytesPerSecond": "-1Mi"}, "positive"},
		{"zero IOPS", map[string]string{"writeIOPS": "0"}, "positive integer"},
		{"overflowing bytes", map[string]string{"writeBytesPerSecond": "99999Ei"}, "larger than"},
		{"overflowing IOPS", map[string]string{"readIOPS": "18446744073709551616"}, `"readIOPS"`},
		{"huge exponent", map[string]string{"readBytesPerSecond": "1e1000000000000"}, `"readBytesPerSecond"`},
		{"fixed and per-GiB limit", map[string]string{"writeIOPS": "100", "writeIOPSPerGiB": "3"}, "not both"},
		{"clamp without per-GiB", map[string]string{"readIOPSMin": "10"}, "valid only beside readIOPSPerGiB"},
		{"burst without burstSeconds", map[string]string{"writeIOPS": "100", "writeIOPSBurst": "1000"}, "needs burstSeconds"},
		{"burst below baseline", map[string]string{"writeBytesPerSecond": "8Mi", "writeBytesPerSecondBurst": "4Mi", "burstSeconds": "5"}, "above the baseline"},
		{"fractional IOPS", map[string]string{"readIOPS": "1.5"}, "positive integer"},
		{"unknown scope", map[string]string{"scope": "node"}, `"scope"`},
		{"unknown fstype", map[string]string{"csi.storage.k8s.io/fstype": "btrfs"}, `"csi.storage.k8s.io/fstype"`},
	}
)

func badCaps() []struct {
	name string
	cap  *csi.VolumeCapability
	frag string
} {
	noMode := testutil.MountCap("")
	noMode.AccessMode = nil
	multi := testutil.MountCap("")
	multi.AccessMode.Mode = csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER
	unknown := testutil.MountCap("")
	unknown.AccessMode.Mode = csi.VolumeCapability_AccessMode_UNKNOWN
	noType := &csi.VolumeCapability{AccessMode: testutil.MountCap("").AccessMode}
	fs := testutil.MountCap("")
	fs.GetMount().FsType = "../../etc"
	return []struct {
		name string
		cap  *csi.VolumeCapability
		frag string
	}{
		{"no capability", nil, "is required"}, // in a list, nil arrives as an empty capability
		{"no access mode", noMode, "access_mode is required"},
		{"multi-node mode", multi, "SINGLE_NODE_*"},
		{"unknown mode", unknown, "UNKNOWN"},
		{"no access type", noType, "mount or block"},
		{"fs_type traversal", fs, "is not supported"},
	}
}

// TestBadInput drives every RPC of the three services, through the gRPC
// server and its interceptor as a CO would, with malformed input, and
// asserts the exact code and the parts of the message that say what is
// wrong and what to do. Every RPC of the descriptors must appear.
// Validation runs before any side effect, so fakes suffice.
func TestBadInput(t *testing.T) {
	d := newFakeDriver(t)
	conn := serveFake(t, d)
	ctrl, node, ident := csi.NewControllerClient(conn), csi.NewNodeClient(conn), csi.NewIdentityClient(conn)
	dir := t.TempDir()
	bg := context.Background()

	mntID := createVolume(t, d, "mnt", testutil.MountCap(""), nil)
	blkID := createVolume(t, d, "blk", testutil.BlockCap(), nil)
	// The block volume staged and published single-writer at one target,
	// as the record says: what a second publish must respect.
	staging, published := filepath.Join(dir, "staging"), filepath.Join(dir, "published")
	if _, err := d.NodeStageVolume(bg, &csi.NodeStageVolumeRequest{VolumeId: blkID, StagingTargetPath: staging, VolumeCapability: testutil.BlockCap()}); err != nil {
		t.Fatal(err)
	}
	r := storedRecord(t, d, blkID)
	r.Publications = map[string]volume.Publication{published: {TargetPath: published, SingleWriter: true}}
	if err := d.deps.Store.Put(r); err != nil {
		t.Fatal(err)
	}

	var cases []rpcCase
	// addMsg asserts several parts of the message: the cases whose point
	// is that the message names the key and value and shows a good one.
	addMsg := func(rpc, name string, code codes.Code, frags []string, call func(context.Context) error) {
		cases = append(cases, rpcCase{rpc: rpc, name: name, call: call, code: code, frags: frags})
	}
	add := func(rpc, name string, code codes.Code, frag string, call func(context.Context) error) {
		var frags []string
		if frag != "" {
			frags = []string{frag}
		}
		addMsg(rpc, name, code, frags, call)
	}
	create := func(name string, caps []*csi.VolumeCapability, params map[string]string, cr *csi.CapacityRange) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := ctrl.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: name, VolumeCapabilities: caps, Parameters: params, CapacityRange: cr})
			return err
		}
	}
	one := []*csi.VolumeCapability{testutil.MountCap("")}

	// CreateVolume
	add("CreateVolume", "empty name", codes.InvalidArgument, "name is required", create("", one, nil, nil))
	// Names reach logs, volume records and Events: control characters are refused.
	addMsg("CreateVolume", "name with NUL", codes.InvalidArgument, []string{`name "v\x00x"`, "NUL (U+0000)", "printable"}, create("v\x00x", one, nil, nil))
	add("CreateVolume", "name with a line break", codes.InvalidArgument, "U+000A", create("v\nINFO forged log line", one, nil, nil))
	add("CreateVolume", "name with an escape", codes.InvalidArgument, "U+001B", create("v\x1b[31m", one, nil, nil))
	add("CreateVolume", "name with DEL", codes.InvalidArgument, "U+007F", create("v\x7f", one, nil, nil))
	add("CreateVolume", "name with a C1 control", codes.InvalidArgument, "U+0085", create("v\u0085", one, nil, nil))
	for _, c := range badCaps() {
		add("CreateVolume", c.name, codes.InvalidArgument, c.frag, create("v", []*csi.VolumeCapability{c.cap}, nil, nil))
	}
	add("CreateVolume", "no capabilities", codes.InvalidArgument, "volume_capabilities are required", create("v", nil, nil, nil))
	reader := testutil.MountCap("")
	reader.AccessMode.Mode = csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY
	add("CreateVolume", "conflicting access modes", codes.InvalidArgument, "MULTI_NODE_READER_ONLY", create("v", []*csi.VolumeCapability{testutil.MountCap(""), reader}, nil, nil))
	add("CreateVolume", "block and mount", codes.InvalidArgument, "mix block and mount", create("v", []*csi.VolumeCapability{testutil.MountCap(""), testutil.BlockCap()}, nil, nil))
	xfs := testutil.MountCap("")
	xfs.GetMount().FsType = "xfs"
	add("CreateVolume", "two filesystems", codes.InvalidArgument, "two filesystems", create("v", []*csi.VolumeCapability{testutil.MountCap(""), xfs, func() *csi.VolumeCapability {
		c := testutil.MountCap("")
		c.GetMount().FsType = "ext4"
		return c
	}()}, nil, nil))
	for _, p := range badParams {
		add("CreateVolume", "parameter "+p.name, codes.InvalidArgument, p.frag, create("v", one, p.params, nil))
	}
	addMsg("CreateVolume", "unknown parameter, message", codes.InvalidArgument, []string{`"writeBPS"`, "accepted keys:", "writeBytesPerSecond"},
		create("v", one, map[string]string{"writeBPS": "1Mi"}, nil))
	addMsg("CreateVolume", "bad quantity, message", codes.InvalidArgument, []string{`"readBytesPerSecond"="fast"`, `example of a good value: readBytesPerSecond: "10Mi"`},
		create("v", one, map[string]string{"readBytesPerSecond": "fast"}, nil))
	addMsg("CreateVolume", "negative IOPS, message", codes.InvalidArgument, []string{`"writeIOPS"="-100"`, "positive integer", `example of a good value: writeIOPS: "500"`},
		create("v", one, map[string]string{"writeIOPS": "-100"}, nil))
	btrfs := testutil.MountCap("btrfs")
	addMsg("CreateVolume", "unsupported fs_type, message", codes.InvalidArgument, []string{`"btrfs"`, `"ext4" or "xfs"`},
		create("v", []*csi.VolumeCapability{btrfs}, nil, nil))
	add("CreateVolume", "limit below a whole MiB", codes.OutOfRange, "whole MiB", create("v", one, nil, &csi.CapacityRange{RequiredBytes: 1000, LimitBytes: 2000}))
	add("CreateVolume", "size parameter on a PVC", codes.InvalidArgument, "only for inline", create("v", one, map[string]string{"size": "1Gi"}, nil))
	add("CreateVolume", "negative capacity", codes.InvalidArgument, "must not be negative", create("v", one, nil, &csi.CapacityRange{RequiredBytes: -1}))
	add("CreateVolume", "overflowing capacity", codes.OutOfRange, "beyond what a file can hold", create("v", one, nil, &csi.CapacityRange{RequiredBytes: 1<<63 - 1}))
	add("CreateVolume", "capacity beyond the disk", codes.ResourceExhausted, "does not fit", create("v", one, nil, &csi.CapacityRange{RequiredBytes: 1 << 61}))
	add("CreateVolume", "required above limit", codes.InvalidArgument, "exceeds limit_bytes", create("v", one, nil, &csi.CapacityRange{RequiredBytes: 2 << 20, LimitBytes: 1 << 20}))
	add("CreateVolume", "content source", codes.InvalidArgument, "volume_content_source", func(ctx context.Context) error {
		_, err := ctrl.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "v", VolumeCapabilities: one,
			VolumeContentSource: &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: "../../etc"}}}})
		return err
	})
	add("CreateVolume", "another node's topology", codes.ResourceExhausted, "only on node", func(ctx context.Context) error {
		_, err := ctrl.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "v", VolumeCapabilities: one, AccessibilityRequirements: &csi.TopologyRequirement{
			Requisite: []*csi.Topology{{Segments: map[string]string{TopologyKey: "../../other-node"}}}}})
		return err
	})

	// Every call with a volume ID.
	idCalls := map[string]func(ctx context.Context, id string) error{
		"DeleteVolume": func(ctx context.Context, id string) error {
			_, err := ctrl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id})
			return err
		},
		"ValidateVolumeCapabilities": func(ctx context.Context, id string) error {
			_, err := ctrl.ValidateVolumeCapabilities(ctx, &csi.ValidateVolumeCapabilitiesRequest{VolumeId: id, VolumeCapabilities: one})
			return err
		},
		"ControllerExpandVolume": func(ctx context.Context, id string) error {
			_, err := ctrl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: id, CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 30}})
			return err
		},
		"NodeStageVolume": func(ctx context.Context, id string) error {
			_, err := node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: id, StagingTargetPath: staging, VolumeCapability: testutil.MountCap("")})
			return err
		},
		"NodeUnstageVolume": func(ctx context.Context, id string) error {
			_, err := node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: id, StagingTargetPath: staging})
			return err
		},
		"NodePublishVolume": func(ctx context.Context, id string) error {
			_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: id, StagingTargetPath: staging,
				TargetPath: filepath.Join(dir, "t"), VolumeCapability: testutil.MountCap("")})
			return err
		},
		"NodeUnpublishVolume": func(ctx context.Context, id string) error {
			_, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: filepath.Join(dir, "t")})
			return err
		},
		"NodeGetVolumeStats": func(ctx context.Context, id string) error {
			_, err := node.NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: id, VolumePath: staging})
			return err
		},
		"NodeExpandVolume": func(ctx context.Context, id string) error {
			_, err := node.NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: id, VolumePath: staging})
			return err
		},
		"NodeGetVolumeHealth": func(ctx context.Context, id string) error {
			_, err := node.NodeGetVolumeHealth(ctx, &csi.NodeGetVolumeHealthRequest{VolumeId: id})
			return err
		},
	}
	addMsg("NodeStageVolume", "4 KiB volume_id, message", codes.InvalidArgument, []string{"not a volume of this driver", "..."},
		func(ctx context.Context) error { return idCalls["NodeStageVolume"](ctx, kib4) })
	for rpc, call := range idCalls {
		for _, b := range badIDs {
			frag := "not a volume of this driver"
			if b.id == "" {
				frag = "volume_id is required"
			}
			add(rpc, "volume_id "+b.name, codes.InvalidArgument, frag, func(ctx context.Context) error { return call(ctx, b.id) })
		}
		if rpc != "DeleteVolume" && rpc != "NodeUnpublishVolume" { // idempotent: an unknown volume is done
			add(rpc, "unknown volume", codes.NotFound, "does not exist", func(ctx context.Context) error { return call(ctx, "blkio-0000") })
		}
	}

	// Every call with a path.
	pathCalls := map[string]func(ctx context.Context, p string) error{
		"NodeStageVolume staging_target_path": func(ctx context.Context, p string) error {
			_, err := node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: mntID, StagingTargetPath: p, VolumeCapability: testutil.MountCap("")})
			return err
		},
		"NodeUnstageVolume staging_target_path": func(ctx context.Context, p string) error {
			_, err := node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: mntID, StagingTargetPath: p})
			return err
		},
		"NodePublishVolume target_path": func(ctx context.Context, p string) error {
			_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: blkID, StagingTargetPath: staging, TargetPath: p, VolumeCapability: testutil.BlockCap()})
			return err
		},
		"NodePublishVolume staging_target_path": func(ctx context.Context, p string) error {
			_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: blkID, StagingTargetPath: p,
				TargetPath: filepath.Join(dir, "t"), VolumeCapability: testutil.BlockCap()})
			return err
		},
		"NodeUnpublishVolume target_path": func(ctx context.Context, p string) error {
			_, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: blkID, TargetPath: p})
			return err
		},
		"NodeGetVolumeStats volume_path": func(ctx context.Context, p string) error {
			_, err := node.NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: blkID, VolumePath: p})
			return err
		},
		"NodeExpandVolume volume_path": func(ctx context.Context, p string) error {
			_, err := node.NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: blkID, VolumePath: p})
			return err
		},
	}
	for what, call := range pathCalls {
		rpc, field, _ := strings.Cut(what, " ")
		for _, b := range badPaths {
			code, frag := codes.InvalidArgument, b.frag
			if field == "volume_path" && b.path != "" {
				// Only compared with the volume's recorded paths, never used:
				// csi-sanity wants NotFound for "some/path" here.
				code, frag = codes.NotFound, "neither staged nor published"
			}
			add(rpc, field+" "+b.name, code, frag, func(ctx context.Context) error { return call(ctx, b.path) })
		}
	}

	// Capabilities on the node and in validation.
	for _, c := range badCaps() {
		add("NodeStageVolume", c.name, codes.InvalidArgument, c.frag, func(ctx context.Context) error {
			_, err := node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: mntID, StagingTargetPath: staging, VolumeCapability: c.cap})
			return err
		})
		add("NodePublishVolume", c.name, codes.InvalidArgument, c.frag, func(ctx context.Context) error {
			_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: blkID, StagingTargetPath: staging,
				TargetPath: filepath.Join(dir, "t"), VolumeCapability: c.cap})
			return err
		})
	}
	add("ValidateVolumeCapabilities", "no capabilities", codes.InvalidArgument, "volume_capabilities are required", func(ctx context.Context) error {
		_, err := ctrl.ValidateVolumeCapabilities(ctx, &csi.ValidateVolumeCapabilitiesRequest{VolumeId: mntID})
		return err
	})
	addMsg("NodeStageVolume", "block volume as filesystem", codes.InvalidArgument, []string{"created for block access", "mount access", "volumeMode Block"}, func(ctx context.Context) error {
		_, err := node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: blkID, StagingTargetPath: staging, VolumeCapability: testutil.MountCap("")})
		return err
	})
	add("NodePublishVolume", "block volume as filesystem", codes.InvalidArgument, "created for block access", func(ctx context.Context) error {
		_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: blkID, StagingTargetPath: staging,
			TargetPath: filepath.Join(dir, "t"), VolumeCapability: testutil.MountCap("")})
		return err
	})
	add("NodePublishVolume", "publish before stage", codes.FailedPrecondition, "NodeStageVolume first", func(ctx context.Context) error {
		_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: mntID, StagingTargetPath: staging,
			TargetPath: filepath.Join(dir, "t"), VolumeCapability: testutil.MountCap("")})
		return err
	})
	single := testutil.BlockCap()
	single.AccessMode.Mode = csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER
	add("NodePublishVolume", "second publication of a single-writer volume", codes.FailedPrecondition, "allows one publication", func(ctx context.Context) error {
		_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: blkID, StagingTargetPath: staging,
			TargetPath: filepath.Join(dir, "second"), VolumeCapability: single})
		return err
	})
	add("NodePublishVolume", "same target, other options", codes.AlreadyExists, "other options", func(ctx context.Context) error {
		_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: blkID, StagingTargetPath: staging,
			TargetPath: published, VolumeCapability: single, Readonly: true})
		return err
	})
	add("NodePublishVolume", "pod UID traversal", codes.InvalidArgument, "not a pod UID", func(ctx context.Context) error {
		_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: blkID, StagingTargetPath: staging,
			TargetPath: filepath.Join(dir, "t"), VolumeCapability: testutil.BlockCap(), VolumeContext: map[string]string{ctxPodUID: "../../../kubepods"}})
		return err
	})
	add("NodePublishVolume", "pod UID with NUL", codes.InvalidArgument, "not a pod UID", func(ctx context.Context) error {
		_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: blkID, StagingTargetPath: staging,
			TargetPath: filepath.Join(dir, "t"), VolumeCapability: testutil.BlockCap(), VolumeContext: map[string]string{ctxPodUID: "a\x00b"}})
		return err
	})
	for _, c := range []struct{ key, value, frag string }{{ctxPodName, "p\x00", "NUL"}, {ctxPodNamespace, "ns\n", "U+000A"}} {
		addMsg("NodePublishVolume", c.key+" with a control character", codes.InvalidArgument, []string{c.key, c.frag}, func(ctx context.Context) error {
			_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: blkID, StagingTargetPath: staging,
				TargetPath: filepath.Join(dir, "t"), VolumeCapability: testutil.BlockCap(), VolumeContext: map[string]string{c.key: c.value}})
			return err
		})
	}
	inline := func(params map[string]string) func(context.Context) error {
		vc := map[string]string{ctxEphemeral: "true"}
		for k, v := range params {
			vc[k] = v
		}
		return func(ctx context.Context) error {
			_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "csi-inline", TargetPath: filepath.Join(dir, "inline"),
				VolumeCapability: testutil.MountCap(""), VolumeContext: vc})
			return err
		}
	}
	for _, p := range badParams {
		add("NodePublishVolume", "inline parameter "+p.name, codes.InvalidArgument, p.frag, inline(p.params))
	}
	addMsg("NodePublishVolume", "inline bad size, message", codes.InvalidArgument, []string{`"size"="lots"`, `"1Gi"`}, inline(map[string]string{"size": "lots"}))
	add("NodePublishVolume", "inline block", codes.InvalidArgument, "volumeMode Block", func(ctx context.Context) error {
		_, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "csi-inline", TargetPath: filepath.Join(dir, "inline"),
			VolumeCapability: testutil.BlockCap(), VolumeContext: map[string]string{ctxEphemeral: "true"}})
		return err
	})
	add("NodePublishVolume", "inline negative size", codes.InvalidArgument, `"size"`, inline(map[string]string{"size": "-1Gi"}))
	add("NodePublishVolume", "inline overflowing size", codes.InvalidArgument, `"size"`, inline(map[string]string{"size": "99999Ei"}))

	// Capacity ranges.
	for name, cr := range map[string]*csi.CapacityRange{"negative": {RequiredBytes: -5}, "negative limit": {LimitBytes: -5}} {
		add("ControllerExpandVolume", name+" capacity", codes.InvalidArgument, "must not be negative", func(ctx context.Context) error {
			_, err := ctrl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: mntID, CapacityRange: cr})
			return err
		})
		add("NodeExpandVolume", name+" capacity", codes.InvalidArgument, "must not be negative", func(ctx context.Context) error {
			_, err := node.NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: blkID, VolumePath: staging, CapacityRange: cr})
			return err
		})
	}
	add("ControllerExpandVolume", "no capacity range", codes.InvalidArgument, "capacity_range is required", func(ctx context.Context) error {
		_, err := ctrl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: mntID})
		return err
	})
	add("ControllerExpandVolume", "overflowing capacity", codes.OutOfRange, "beyond what a file can hold", func(ctx context.Context) error {
		_, err := ctrl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: mntID, CapacityRange: &csi.CapacityRange{RequiredBytes: 1<<63 - 1}})
		return err
	})
	add("ControllerExpandVolume", "beyond the disk", codes.ResourceExhausted, "free", func(ctx context.Context) error {
		_, err := ctrl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: mntID, CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 61}})
		return err
	})
	add("ControllerExpandVolume", "shrink", codes.OutOfRange, "shrinking is not supported", func(ctx context.Context) error {
		_, err := ctrl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: blkID,
			CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 20, LimitBytes: 1 << 20}})
		return err
	})
	add("ControllerExpandVolume", "capability of the other access type", codes.InvalidArgument, "created for mount access", func(ctx context.Context) error {
		_, err := ctrl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: mntID,
			CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 30}, VolumeCapability: testutil.BlockCap()})
		return err
	})
	add("NodeExpandVolume", "path that is not the volume's", codes.NotFound, "neither staged nor published", func(ctx context.Context) error {
		_, err := node.NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: blkID, VolumePath: "/etc"})
		return err
	})

	// VolumeAttributesClass parameters: the same checks as a StorageClass's,
	// plus the keys that cannot change.
	modify := func(id string, m map[string]string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := ctrl.ControllerModifyVolume(ctx, &csi.ControllerModifyVolumeRequest{VolumeId: id, MutableParameters: m})
			return err
		}
	}
	for _, p := range badParams {
		frag := p.frag
		if frag == "accepted keys" {
			frag = "keys a VolumeAttributesClass may set"
		}
		add("ControllerModifyVolume", "parameter "+p.name, codes.InvalidArgument, frag, modify(mntID, p.params))
	}
	add("ControllerModifyVolume", "no parameters", codes.InvalidArgument, "mutable_parameters are required", modify(mntID, nil))
	add("ControllerModifyVolume", "no volume ID", codes.InvalidArgument, "volume_id is required", modify("", map[string]string{"writeIOPS": "1"}))
	add("ControllerModifyVolume", "traversal ID", codes.NotFound, "not a volume of this driver", modify("../../etc", map[string]string{"writeIOPS": "1"}))
	add("ControllerModifyVolume", "4 KiB key and value", codes.InvalidArgument, "not a parameter", modify(mntID, map[string]string{kib4: kib4}))
	for _, k := range []string{"scope", "csi.storage.k8s.io/fstype", "size"} {
		add("ControllerModifyVolume", "immutable "+k, codes.InvalidArgument, "cannot change on an existing volume", modify(mntID, map[string]string{k: "x"}))
	}

	// Lists, capacity, capabilities and identity: malformed input is
	// refused or answered, never a crash.
	add("ListVolumes", "foreign token", codes.Aborted, "list again without a token", func(ctx context.Context) error {
		_, err := ctrl.ListVolumes(ctx, &csi.ListVolumesRequest{StartingToken: "after:../../etc"})
		return err
	})
	add("ListVolumes", "4 KiB token", codes.Aborted, "not issued by this driver", func(ctx context.Context) error {
		_, err := ctrl.ListVolumes(ctx, &csi.ListVolumesRequest{StartingToken: kib4})
		return err
	})
	add("ListVolumes", "negative max_entries", codes.InvalidArgument, "max_entries", func(ctx context.Context) error {
		_, err := ctrl.ListVolumes(ctx, &csi.ListVolumesRequest{MaxEntries: -1})
		return err
	})
	add("GetCapacity", "malformed capability and topology", codes.OK, "", func(ctx context.Context) error {
		resp, err := ctrl.GetCapacity(ctx, &csi.GetCapacityRequest{VolumeCapabilities: []*csi.VolumeCapability{nil, badCaps()[2].cap},
			Parameters: map[string]string{kib4: "\x00"}, AccessibleTopology: &csi.Topology{Segments: map[string]string{TopologyKey: "../x"}}})
		if err == nil && resp.GetAvailableCapacity() != 0 {
			t.Errorf("GetCapacity for capabilities we cannot serve: %d, want 0", resp.GetAvailableCapacity())
		}
		return err
	})
	add("ControllerGetCapabilities", "any request", codes.OK, "", func(ctx context.Context) error {
		_, err := ctrl.ControllerGetCapabilities(ctx, &csi.ControllerGetCapabilitiesRequest{})
		return err
	})
	add("NodeGetCapabilities", "any request", codes.OK, "", func(ctx context.Context) error {
		_, err := node.NodeGetCapabilities(ctx, &csi.NodeGetCapabilitiesRequest{})
		return err
	})
	add("NodeGetInfo", "any request", codes.OK, "", func(ctx context.Context) error {
		_, err := node.NodeGetInfo(ctx, &csi.NodeGetInfoRequest{})
		return err
	})
	add("GetPluginInfo", "any request", codes.OK, "", func(ctx context.Context) error {
		_, err := ident.GetPluginInfo(ctx, &csi.GetPluginInfoRequest{})
		return err
	})
	add("GetPluginCapabilities", "any request", codes.OK, "", func(ctx context.Context) error {
		_, err := ident.GetPluginCapabilities(ctx, &csi.GetPluginCapabilitiesRequest{})
		return err
	})
	add("Probe", "any request", codes.OK, "", func(ctx context.Context) error {
		_, err := ident.Probe(ctx, &csi.ProbeRequest{})
		return err
	})
	// The RPCs we do not serve answer Unimplemented whatever they carry.
	for _, u := range []struct {
		rpc  string
		call func(context.Context) error
	}{
		{"ControllerPublishVolume", func(ctx context.Context) error {
			_, err := ctrl.ControllerPublishVolume(ctx, &csi.ControllerPublishVolumeRequest{VolumeId: "../../etc", NodeId: kib4})
			return err
		}},
		{"ControllerUnpublishVolume", func(ctx context.Context) error {
			_, err := ctrl.ControllerUnpublishVolume(ctx, &csi.ControllerUnpublishVolumeRequest{VolumeId: "../../etc"})
			return err
		}},
		{"ControllerListVolumeHealth", func(ctx context.Context) error {
			_, err := ctrl.ControllerListVolumeHealth(ctx, &csi.ControllerListVolumeHealthRequest{StartingToken: kib4})
			return err
		}},
		{"ControllerGetVolumeHealth", func(ctx context.Context) error {
			_, err := ctrl.ControllerGetVolumeHealth(ctx, &csi.ControllerGetVolumeHealthRequest{VolumeId: "../../etc"})
			return err
		}},
		{"CreateSnapshot", func(ctx context.Context) error {
			_, err := ctrl.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{SourceVolumeId: "../../etc", Name: kib4})
			return err
		}},
		{"DeleteSnapshot", func(ctx context.Context) error {
			_, err := ctrl.DeleteSnapshot(ctx, &csi.DeleteSnapshotRequest{SnapshotId: "../../etc"})
			return err
		}},
		{"ListSnapshots", func(ctx context.Context) error {
			_, err := ctrl.ListSnapshots(ctx, &csi.ListSnapshotsRequest{SourceVolumeId: "\x00"})
			return err
		}},
		{"GetSnapshot", func(ctx context.Context) error {
			_, err := ctrl.GetSnapshot(ctx, &csi.GetSnapshotRequest{SnapshotId: "../../etc"})
			return err
		}},
		{"ControllerGetVolume", func(ctx context.Context) error {
			_, err := ctrl.ControllerGetVolume(ctx, &csi.ControllerGetVolumeRequest{VolumeId: "../../etc"})
			return err
		}},
		{"NodeGetStorageHealth", func(ctx context.Context) error {
			_, err := node.NodeGetStorageHealth(ctx, &csi.NodeGetStorageHealthRequest{})
			return err
		}},
	} {
		add(u.rpc, "malformed, not served", codes.Unimplemented, "", u.call)
	}

	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.rpc] = true
		t.Run(c.rpc+"/"+c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(bg, 10*time.Second)
			defer cancel()
			wantStatus(t, c.call(ctx), c.code, c.frags...)
		})
	}
	for _, sd := range []grpc.ServiceDesc{csi.Identity_ServiceDesc, csi.Controller_ServiceDesc, csi.Node_ServiceDesc} {
		for _, m := range sd.Methods {
			if !covered[m.MethodName] {
				t.Errorf("%s.%s has no bad-input case", sd.ServiceName, m.MethodName)
			}
		}
	}
	t.Logf("%d cases over %d RPCs", len(cases), len(covered))
	// Nothing the bad input named was created.
	for _, p := range []string{filepath.Join(dir, "t"), filepath.Join(dir, "second"), filepath.Join(dir, "inline")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("bad input created %s", p)
		}
	}
}

// serveFake serves d on a unix socket in a temp dir and returns a client.
func serveFake(t *testing.T, d *Driver) *grpc.ClientConn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "csi.sock")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, "unix://"+sock) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i == 500 {
			t.Fatal("socket did not appear")
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
