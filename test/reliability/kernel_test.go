package reliability

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/mount-utils"

	"github.com/csi-blkio/csi-blkio/internal/drivertest"
	"github.com/csi-blkio/csi-blkio/internal/iobench"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// record reads a volume's record as the plugin left it.
func (e *env) record(t *testing.T, v vol) *volume.Record {
	t.Helper()
	return drivertest.ReadRecord(t, e.stateDir, v.id)
}

func (e *env) backing(v vol) string { return filepath.Join(e.stateDir, "volumes", v.id+".img") }

// boundTo lists the loop devices bound to file.
func boundTo(t *testing.T, file string) []string {
	t.Helper()
	return drivertest.LoopsBackedBy(t, file)
}

// loopOf returns the one loop device of v, failing on none or several.
func (e *env) loopOf(t *testing.T, v vol) string {
	t.Helper()
	devs := boundTo(t, e.backing(v))
	if len(devs) != 1 {
		t.Fatalf("volume %s has %d loop devices (%v), want exactly 1", v.id, len(devs), devs)
	}
	return devs[0]
}

func devNum(t *testing.T, dev string) throttle.Device {
	t.Helper()
	n, err := throttle.DeviceOf(dev)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// limits reads what the kernel holds for dev on cgroup.
func limits(t *testing.T, cgroup string, dev throttle.Device) throttle.Limits {
	t.Helper()
	l, err := throttle.NewV1(testutil.BlkioV1, nil).ReadLimits(cgroup, dev)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func wantLimits(t *testing.T, cgroup string, dev throttle.Device, want throttle.Limits) {
	t.Helper()
	if got := limits(t, cgroup, dev); got != want {
		t.Errorf("%s holds %s for %s, want %s", cgroup, got, dev, want)
	}
}

// waitLimits polls until cgroup holds want for dev (a new container's
// limit is placed by the watcher, after the mkdir).
func waitLimits(t *testing.T, cgroup string, dev throttle.Device, want throttle.Limits) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := limits(t, cgroup, dev)
		if got == want {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s holds %s for %s after 10 s, want %s", cgroup, got, dev, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// setLimits writes kernel entries behind the plugin's back.
func setLimits(t *testing.T, cgroup string, dev throttle.Device, l throttle.Limits) {
	t.Helper()
	if err := throttle.NewV1(testutil.BlkioV1, nil).WriteLimits(cgroup, dev, l); err != nil {
		t.Fatal(err)
	}
}

// mountIDs returns the mount IDs at path (a remount would change them).
func mountIDs(t *testing.T, path string) []int {
	t.Helper()
	mis, err := mount.ParseMountInfo("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, mi := range mis {
		if mi.MountPoint == path {
			ids = append(ids, mi.ID)
		}
	}
	return ids
}

// writeData writes n random bytes to path, fsyncs (an acknowledged write)
// and returns their sha256.
func writeData(t *testing.T, path string, n int) string {
	t.Helper()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	writeSynced(t, path, data)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// writeSynced writes data at the start of path (a file, created if need
// be, or a raw block device) and fsyncs it: an acknowledged write, as a pod
// makes it.
func writeSynced(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// readSum reads n bytes of path with O_DIRECT — from the device, not the
// page cache — and returns their sha256.
func readSum(t *testing.T, path string, n int) string {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer unix.Close(fd)
	const chunk = 1 << 20
	buf, err := unix.Mmap(-1, 0, chunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE) // page-aligned
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	h := sha256.New()
	for done := 0; done < n; {
		got, err := unix.Read(fd, buf)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if got == 0 {
			t.Fatalf("%s: %d bytes, want %d", path, done, n)
		}
		got = min(got, n-done)
		h.Write(buf[:got])
		done += got
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ddRate runs a direct-IO dd writing n MiB to path from inside cgroup, as
// a container would, and returns the bytes per second it achieved and how
// it ran.
func ddRate(t *testing.T, cgroup, path string, mib int) (float64, testutil.Run) {
	t.Helper()
	run, err := testutil.RunWaited(testutil.CommandInCgroup(t, cgroup, "dd", "if=/dev/zero", "of="+path, "bs=1M",
		fmt.Sprintf("count=%d", mib), "oflag=direct", "conv=notrunc"))
	if err != nil {
		t.Fatalf("dd in %s: %v\n%s", cgroup, err, run.Out)
	}
	return float64(mib<<20) / run.Elapsed.Seconds(), run
}

// wantHeld asserts a rate at most 1.25 of limit (held) and at least 0.5 of
// it, less the share of the run dd waited for a CPU (iobench.Floor: with
// one IO in flight that is budget the kernel could not hand out; 0.5 leaves
// room for a shared disk busy with other work). The precise figure belongs
// to the benchmarks.
func wantHeld(t *testing.T, rate float64, run testutil.Run, limit uint64) {
	t.Helper()
	ratio := rate / float64(limit)
	floor := iobench.Floor(0.5, run.Elapsed, run.Waited)
	t.Logf("direct-IO writer: %.2f MiB/s against a limit of %.2f MiB/s (ratio %.3f; it waited %v of %v for a CPU)",
		rate/(1<<20), float64(limit)/(1<<20), ratio, run.Waited.Round(time.Millisecond), run.Elapsed.Round(time.Millisecond))
	if ratio < floor || ratio > 1.25 {
		t.Errorf("achieved/limit = %.3f, want between %.2f and 1.25", ratio, floor)
	}
}

// assertNothingLeft: no loop device bound to the state dir, no mount below
// the test's dirs, nothing in the volume store.
func (e *env) assertNothingLeft(t *testing.T) {
	t.Helper()
	for _, dir := range []string{e.base, e.stateDir} {
		if left := drivertest.LoopsBackedUnder(t, dir); len(left) > 0 {
			t.Errorf("loop devices left bound under %s: %v", dir, left)
		}
		if left := drivertest.MountsUnder(t, dir); len(left) > 0 {
			t.Errorf("mounts left under %s: %v", dir, left)
		}
	}
	ents, err := os.ReadDir(filepath.Join(e.stateDir, "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		t.Errorf("file left in the volume store: %s", en.Name())
	}
}
