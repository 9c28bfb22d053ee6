package reliability

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestUnmountWhileInUse: a process with a file open on a volume, or another
// filesystem mounted inside it, keeps NodeUnpublishVolume and
// NodeUnstageVolume from unmounting it. They answer FailedPrecondition, the
// kubelet's cue to retry, with the cause to remove, and change nothing: the
// mounts, the loop device and the record stay. Once the cause is gone the
// retries succeed.
func TestUnmountWhileInUse(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	uid := testutil.PodUID(601)
	e.podCgroup(t, uid)
	v := e.createVolume(t, p, "busy", 16<<20, false, map[string]string{"writeBytesPerSecond": "8Mi"})
	target := e.target(uid, "busy")
	stageAndPublish(t, p, v, uid, target)

	held, err := os.Create(filepath.Join(target, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	wantCode(t, "NodeUnpublishVolume with a file open", unpublishErr(p, v, target), codes.FailedPrecondition, "in use")
	if ids := mountIDs(t, target); len(ids) != 1 {
		t.Errorf("after a busy unpublish %s has %d mounts, want 1", target, len(ids))
	}
	if r := e.record(t, v); len(r.Publications) != 1 {
		t.Errorf("after a busy unpublish the record lists %d publications, want 1", len(r.Publications))
	}
	must(t, "close the file", held.Close())
	must(t, "NodeUnpublishVolume after the file was closed", unpublishErr(p, v, target))

	// Another filesystem mounted inside the volume holds it too, and the
	// answer names that mount, the thing to unmount.
	nested := filepath.Join(v.staging, "nested")
	must(t, "make a directory in the staging mount", os.Mkdir(nested, 0o755))
	must(t, "mount a tmpfs below the staging mount", unix.Mount("csiblkio-test-nested", nested, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { _ = unix.Unmount(nested, 0) }) // a failed test leaves no mount; EINVAL once unmounted
	wantCode(t, "NodeUnstageVolume with a filesystem mounted below it", unstageErr(p, v), codes.FailedPrecondition, nested+" is mounted below it")
	if ids := mountIDs(t, v.staging); len(ids) != 1 {
		t.Errorf("after a busy unstage %s has %d mounts, want 1", v.staging, len(ids))
	}
	must(t, "unmount the tmpfs", unix.Unmount(nested, 0))

	// A process whose working directory is in the filesystem holds it
	// as an open file does.
	sleeper := exec.Command("sleep", "300")
	sleeper.Dir = v.staging
	must(t, "start a process in the staging mount", sleeper.Start())
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	wantCode(t, "NodeUnstageVolume with a process's working directory below it", unstageErr(p, v), codes.FailedPrecondition, "in use")
	if ids := mountIDs(t, v.staging); len(ids) != 1 {
		t.Errorf("after a busy unstage %s has %d mounts, want 1", v.staging, len(ids))
	}
	if devs := boundTo(t, e.backing(v)); len(devs) != 1 {
		t.Errorf("after a busy unstage %d loop devices are bound to the backing file, want 1", len(devs))
	}
	must(t, "stop the process", sleeper.Process.Kill())
	_ = sleeper.Wait() // killed: its error says so
	teardown(t, p, v)
	if ids := mountIDs(t, v.staging); len(ids) != 0 {
		t.Errorf("after unstage %s is still mounted", v.staging)
	}
	if devs := boundTo(t, e.backing(v)); len(devs) != 0 {
		t.Errorf("after unstage loop devices %v are still bound", devs)
	}
}
