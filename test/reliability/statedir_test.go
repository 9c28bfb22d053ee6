package reliability

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestStateDirFull puts the state dir on a 64 MiB ext4 filesystem and runs
// it out of space and then out of inodes. Every call that needs what is not
// there fails with ResourceExhausted and leaves nothing half-made: no
// backing file or record of a volume that was not created, no loop device
// or mount of a stage that failed, no grown file behind a failed expansion.
// Once space is freed, the kubelet's and the provisioner's retries succeed.
func TestStateDirFull(t *testing.T) {
	e, mnt := newEnvOnExt4(t, 64<<20)
	p := e.start(t)
	uid := testutil.PodUID(501)
	e.podCgroup(t, uid)
	params := map[string]string{"writeBytesPerSecond": "8Mi"}

	// GetCapacity is coarse (whole MiB on so small a filesystem) and never
	// above the exact free space; the calls below check the exact figure.
	free, _ := statfs(t, mnt)
	if c := capacity(t, p); c > free || c <= free-(1<<20) {
		t.Errorf("GetCapacity %d with %d bytes free: want the whole MiB just below", c, free)
	}
	t.Logf("state dir filesystem: %d MiB free", free>>20)
	_, err := createErr(p, "too-big", free+(64<<20))
	wantCode(t, "CreateVolume beyond the free space", err, codes.ResourceExhausted, "does not fit")
	e.wantStore(t)

	v := e.createVolume(t, p, "v", 16<<20, false, params)
	later := e.createVolume(t, p, "later", 16<<20, false, params)
	target := e.target(uid, "v")
	stageAndPublish(t, p, v, uid, target)
	sum := writeData(t, filepath.Join(target, "data"), 1<<20)
	e.wantStore(t, v, later)

	// Expansion beyond the space: nothing changes.
	_, err = expandErr(p, v, 2*free)
	wantCode(t, "ControllerExpandVolume beyond the free space", err, codes.ResourceExhausted, "free")
	_, err = nodeExpandErr(p, v, target, 2*free)
	wantCode(t, "NodeExpandVolume beyond the free space", err, codes.ResourceExhausted, "free")
	e.wantSize(t, v, 16<<20)

	// No inode left: no file can be created, so no record can be written.
	fillers := fillInodes(t, filepath.Join(mnt, testutil.Prefix+"-filler"))
	_, err = createErr(p, "no-inode", 1<<20)
	wantCode(t, "CreateVolume without a free inode", err, codes.ResourceExhausted, "free space")
	e.wantStore(t, v, later)
	second := e.target(uid, "v-second")
	err = publishErr(p, v, uid, second)
	wantCode(t, "NodePublishVolume whose record cannot be written", err, codes.ResourceExhausted, "write volume record")
	if ids := mountIDs(t, second); len(ids) != 0 {
		t.Errorf("failed publish left a mount at %s", second)
	}
	if r := e.record(t, v); len(r.Publications) != 1 {
		t.Errorf("record lists %d publications after a failed publish, want 1", len(r.Publications))
	}
	_, err = expandErr(p, v, 20<<20)
	wantCode(t, "ControllerExpandVolume whose record cannot be written", err, codes.ResourceExhausted, "write volume record")
	e.wantSize(t, v, 16<<20)
	err = stageErr(p, later)
	wantCode(t, "NodeStageVolume whose record cannot be written", err, codes.ResourceExhausted, "write volume record")
	if devs := boundTo(t, e.backing(later)); len(devs) != 0 {
		t.Errorf("failed stage left loop devices %v", devs)
	}
	if ids := mountIDs(t, later.staging); len(ids) != 0 {
		t.Errorf("failed stage left a mount at %s", later.staging)
	}
	err = unpublishErr(p, v, target)
	wantCode(t, "NodeUnpublishVolume whose record cannot be written", err, codes.ResourceExhausted, "write volume record")

	// One inode: the backing file takes it, the record finds none.
	if err := os.Remove(fillers[len(fillers)-1]); err != nil {
		t.Fatal(err)
	}
	_, err = createErr(p, "one-inode", 1<<20)
	wantCode(t, "CreateVolume whose record cannot be written", err, codes.ResourceExhausted, "write volume record")
	e.wantStore(t, v, later)

	// Space again: every retry succeeds and the data is intact.
	if err := os.RemoveAll(filepath.Join(mnt, testutil.Prefix+"-filler")); err != nil {
		t.Fatal(err)
	}
	must(t, "retried NodeUnpublishVolume", unpublishErr(p, v, target))
	must(t, "NodePublishVolume", publishErr(p, v, uid, target))
	if got := readSum(t, filepath.Join(target, "data"), 1<<20); got != sum {
		t.Errorf("data after the full disk: sha256 %s, want %s", got, sum)
	}
	if reasons := healthReasons(t, p, v); len(reasons) > 0 {
		t.Errorf("volume unhealthy after the retries: %v", reasons)
	}
	must(t, "retried NodeStageVolume", stageErr(p, later))
	if _, err := expandErr(p, v, 20<<20); err != nil {
		t.Fatalf("retried ControllerExpandVolume: %v", err)
	}
	e.wantSize(t, v, 20<<20)
	retried := e.createVolume(t, p, "one-inode", 1<<20, false, nil)
	teardown(t, p, v, target)
	must(t, "NodeUnstageVolume", unstageErr(p, later))
	must(t, "DeleteVolume", deleteErr(p, later))
	must(t, "DeleteVolume", deleteErr(p, retried))
	e.assertNothingLeft(t)
	p.stop(t)
}

func capacity(t *testing.T, p *plugin) int64 {
	t.Helper()
	ctx, cancel := rpcCtx()
	defer cancel()
	resp, err := p.controller().GetCapacity(ctx, &csi.GetCapacityRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetAvailableCapacity()
}

func createErr(p *plugin, name string, size int64) (*csi.CreateVolumeResponse, error) {
	ctx, cancel := rpcCtx()
	defer cancel()
	return p.controller().CreateVolume(ctx, &csi.CreateVolumeRequest{
		Name: testutil.Prefix + "-" + name, VolumeCapabilities: []*csi.VolumeCapability{testutil.MountCap("")},
		CapacityRange: &csi.CapacityRange{RequiredBytes: size},
	})
}

func expandErr(p *plugin, v vol, size int64) (*csi.ControllerExpandVolumeResponse, error) {
	ctx, cancel := rpcCtx()
	defer cancel()
	return p.controller().ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: v.id,
		CapacityRange: &csi.CapacityRange{RequiredBytes: size}, VolumeCapability: testutil.Cap(v.block, v.fsType)})
}

func nodeExpandErr(p *plugin, v vol, path string, size int64) (*csi.NodeExpandVolumeResponse, error) {
	ctx, cancel := rpcCtx()
	defer cancel()
	return p.node().NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: v.id, VolumePath: path,
		CapacityRange: &csi.CapacityRange{RequiredBytes: size}, VolumeCapability: testutil.Cap(v.block, v.fsType)})
}

func wantCode(t *testing.T, what string, err error, code codes.Code, frag string) {
	t.Helper()
	s, _ := status.FromError(err)
	if s.Code() != code || !strings.Contains(s.Message(), frag) {
		t.Errorf("%s: %v, want %s mentioning %q", what, err, code, frag)
	}
}

// wantStore asserts the volume store holds exactly the files of vs.
func (e *env) wantStore(t *testing.T, vs ...vol) {
	t.Helper()
	var want, got []string
	for _, v := range vs {
		want = append(want, v.id+".img", v.id+".json")
	}
	ents, err := os.ReadDir(filepath.Join(e.stateDir, "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		got = append(got, en.Name())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("volume store holds %v, want %v", got, want)
	}
}

// wantSize asserts the record's capacity and the backing file's size.
func (e *env) wantSize(t *testing.T, v vol, size int64) {
	t.Helper()
	if got := e.record(t, v).CapacityBytes; got != size {
		t.Errorf("record capacity %d, want %d", got, size)
	}
	st, err := os.Stat(e.backing(v))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != size {
		t.Errorf("backing file holds %d bytes, want %d", st.Size(), size)
	}
}

// fillInodes creates empty files in dir until the filesystem has no free
// inode, and returns them.
func fillInodes(t *testing.T, dir string) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var files []string
	for i := 0; ; i++ {
		f := filepath.Join(dir, fmt.Sprint(i))
		err := os.WriteFile(f, nil, 0o600)
		if errors.Is(err, unix.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Ffree != 0 {
		t.Fatalf("%d inodes still free after filling", st.Ffree)
	}
	t.Logf("filled %d inodes", len(files))
	return files
}
