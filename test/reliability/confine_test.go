package reliability

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestNothingOutsideStateDirAndTargets runs the plugin under strace -f
// through a whole life — start-up recovery, a bad-input run aimed at
// canary files next to the state dir, create/stage/publish/write/expand/
// unpublish/unstage/delete of a filesystem, a block and an inline volume,
// and the bad-input run again — and checks every successful call of the
// plugin and of every program it ran (mount, umount, mkfs, blkid, fsck)
// that creates, removes, renames or mounts over a name: each lies in the
// state dir, is the CSI socket, or is a staging or target path the test
// passed (or a missing parent of one). The canaries and the rest of the
// test's directory are unchanged.
func TestNothingOutsideStateDirAndTargets(t *testing.T) {
	e := newEnv(t)
	traces := t.TempDir()
	canaries := plantCanaries(t, e.base)
	before := snapshot(t, e)
	uid := testutil.PodUID(701)
	e.podCgroup(t, uid)

	p := e.startTraced(t, traces)
	badInputRun(t, e, p, uid)
	given := fullCycle(t, e, p, uid)
	badInputRun(t, e, p, uid)
	p.stopTraced(t)

	changes := readTraces(t, traces)
	inside := 0
	for _, c := range changes {
		if e.allowed(c.path, given) {
			inside++
			continue
		}
		t.Errorf("%s of %s, outside the state dir and the given paths:\n  %s", c.call, c.path, c.line)
	}
	t.Logf("%d create/remove/rename/mount calls traced, all inside the state dir and the given paths: %t", len(changes), inside == len(changes))
	if inside == 0 {
		t.Fatal("the trace holds no file system change at all; is strace tracing the plugin?")
	}
	for name, want := range canaries {
		if got, err := os.ReadFile(name); err != nil || string(got) != want {
			t.Errorf("canary %s: %q, %v", name, got, err)
		}
	}
	after := snapshot(t, e)
	for name, id := range before {
		if after[name] != id {
			t.Errorf("%s changed: %v before, %v after", name, id, after[name])
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s appeared outside the state dir", name)
		}
	}
}

// allowed: inside the state dir, the CSI socket, inside a given path, or a
// parent of a given path below the work dir (the driver creates a target's
// missing parents, as the kubelet expects).
func (e *env) allowed(p string, given []string) bool {
	within := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	if within(p, e.stateDir) || p == e.sock {
		return true
	}
	for _, g := range given {
		if within(p, g) || (within(g, p) && within(p, e.workDir)) {
			return true
		}
	}
	return false
}

// plantCanaries puts files where a traversal out of the state dir would
// land: <base>/canary.json and .img are what ID "../../canary" would name.
func plantCanaries(t *testing.T, base string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"canary.json", "canary.img", "canary-dir/keep", "canary-dir/volumes/keep"} {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("canary "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		out[p] = "canary " + name
	}
	return out
}

type fileID struct {
	ino  uint64
	size int64
	mode fs.FileMode
}

// snapshot records every name below the test's base dir except the state
// dir, the work dir, the socket and the plugin logs.
func snapshot(t *testing.T, e *env) map[string]fileID {
	t.Helper()
	out := map[string]fileID{}
	err := filepath.WalkDir(e.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == e.stateDir || p == e.workDir {
			return filepath.SkipDir
		}
		if p == e.sock || strings.HasPrefix(filepath.Base(p), "plugin-") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fileID{ino: fi.Sys().(*syscall.Stat_t).Ino, size: fi.Size(), mode: fi.Mode()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fullCycle is a volume's whole life, for a filesystem, a block and an
// inline volume; it returns the staging and target paths it passed.
func fullCycle(t *testing.T, e *env, p *plugin, uid string) []string {
	t.Helper()
	var given []string
	params := map[string]string{"writeBytesPerSecond": "64Mi"}
	for _, block := range []bool{false, true} {
		name := map[bool]string{false: "fs", true: "blk"}[block]
		v := e.createVolume(t, p, name, 32<<20, block, params)
		target := e.target(uid, name)
		given = append(given, v.staging, target)
		stageAndPublish(t, p, v, uid, target)
		data := target
		if !block {
			data = filepath.Join(target, "data")
		}
		writeData(t, data, 1<<20)
		ctx, cancel := rpcCtx()
		if _, err := p.node().NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: v.id, VolumePath: target}); err != nil {
			t.Errorf("NodeGetVolumeStats: %v", err)
		}
		if block { // ext4 cannot grow online without CAP_SYS_RESOURCE here
			cr := &csi.CapacityRange{RequiredBytes: 48 << 20}
			if _, err := p.controller().ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: v.id, CapacityRange: cr}); err != nil {
				t.Errorf("ControllerExpandVolume: %v", err)
			}
			if _, err := p.node().NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: v.id, VolumePath: target, CapacityRange: cr,
				VolumeCapability: testutil.Cap(v.block, v.fsType)}); err != nil {
				t.Errorf("NodeExpandVolume: %v", err)
			}
		}
		cancel()
		teardown(t, p, v, target)
	}
	inline := e.target(uid, "inline")
	given = append(given, inline)
	vc := testutil.PodContext(uid, "pod-"+uid[:8], "default")
	vc["csi.storage.k8s.io/ephemeral"], vc["size"] = "true", "32Mi"
	ctx, cancel := rpcCtx()
	defer cancel()
	if _, err := p.node().NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "csi-" + strings.Repeat("ab", 32), TargetPath: inline,
		VolumeCapability: testutil.MountCap(""), VolumeContext: vc}); err != nil {
		t.Fatalf("inline NodePublishVolume: %v", err)
	}
	writeData(t, filepath.Join(inline, "data"), 1<<20)
	if _, err := p.node().NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "csi-" + strings.Repeat("ab", 32), TargetPath: inline}); err != nil {
		t.Fatalf("inline NodeUnpublishVolume: %v", err)
	}
	e.assertNothingLeft(t)
	return given
}

// badInputRun aims IDs and paths at the canaries through every call that
// takes one; each must be refused before anything is touched.
func badInputRun(t *testing.T, e *env, p *plugin, uid string) {
	t.Helper()
	ids := []string{"../../canary", "..", "../volumes/../../canary", e.base + "/canary", "canary\x00"}
	paths := []string{e.workDir + "/../canary-dir", "canary-dir", e.base + "/canary-dir\x00/x", e.workDir + "/../../" + filepath.Base(e.base) + "/canary-dir"}
	good := vol{id: "blkio-0123", staging: e.staging("bad")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	refusedWith := func(want codes.Code, what string, err error) {
		t.Helper()
		if c := status.Code(err); c != want {
			t.Errorf("%s: %v, want %s", what, err, want)
		}
	}
	refused := func(what string, err error) { t.Helper(); refusedWith(codes.InvalidArgument, what, err) }
	for _, id := range ids {
		v := good
		v.id = id
		refused("DeleteVolume "+id, deleteErr(p, v))
		refused("NodeStageVolume "+id, stageErr(p, v))
		refused("NodePublishVolume "+id, publishErr(p, v, uid, e.target(uid, "bad")))
		refused("NodeUnpublishVolume "+id, unpublishErr(p, v, e.target(uid, "bad")))
		refused("NodeUnstageVolume "+id, unstageErr(p, v))
		vc := map[string]string{"csi.storage.k8s.io/ephemeral": "true", "size": "16Mi"}
		_, err := p.node().NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: e.target(uid, "bad"),
			VolumeCapability: testutil.MountCap(""), VolumeContext: vc})
		refused("inline NodePublishVolume "+id, err)
		_, err = p.controller().ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: id, CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 20}})
		refused("ControllerExpandVolume "+id, err)
	}
	for _, path := range paths {
		v := good
		v.staging = path
		refused("NodeStageVolume at "+path, stageErr(p, v))
		refused("NodeUnstageVolume at "+path, unstageErr(p, v))
		refused("NodePublishVolume to "+path, publishErr(p, good, uid, path))
		refused("NodeUnpublishVolume at "+path, unpublishErr(p, good, path))
		_, err := p.node().NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: good.id, VolumePath: path})
		refusedWith(codes.NotFound, "NodeGetVolumeStats at "+path, err) // compared with recorded paths only
	}
	refused("NodePublishVolume for pod UID ../..", publishErr(p, good, "../../../canary-dir", e.target(uid, "bad")))
}
