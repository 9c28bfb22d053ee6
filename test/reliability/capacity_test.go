package reliability

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestCapacityCoarse: GetCapacity on a real 256 MiB ext4 state dir moves in
// whole steps (2 MiB here: the largest power of two <= 1/64 of the size),
// so the provisioners' CSIStorageCapacity objects are not rewritten for
// every write. Two polls around a small fsynced write report the same
// figure while the exact free space moved; the figure is never above the
// exact free space, and a disk filled to less than a step reports 0.
func TestCapacityCoarse(t *testing.T) {
	e, mnt := newEnvOnExt4(t, 256<<20)
	p := e.start(t)
	fillDir := filepath.Join(mnt, testutil.Prefix+"-filler")
	if err := os.MkdirAll(fillDir, 0o700); err != nil {
		t.Fatal(err)
	}

	free, total := statfs(t, mnt)
	step := int64(1) << 20
	for step*2 <= total/64 {
		step *= 2
	}
	t.Logf("state dir filesystem: %d MiB, %d MiB free, capacity step %d MiB", total>>20, free>>20, step>>20)

	// Put the exact free space half a step above a step boundary, so that
	// the small write below stays inside the step whatever the fresh
	// filesystem's figure was.
	if off := free%step - step/2; off > 0 {
		fill(t, filepath.Join(fillDir, "align"), off)
	} else {
		fill(t, filepath.Join(fillDir, "align"), off+step)
	}

	exactBefore, _ := statfs(t, mnt)
	before := capacity(t, p)
	small := make([]byte, 256<<10)
	for i := range small {
		small[i] = byte(i)
	}
	writeSynced(t, filepath.Join(fillDir, "small"), small)
	exactAfter, _ := statfs(t, mnt)
	after := capacity(t, p)
	t.Logf("around a 256 KiB write: exact %d -> %d, reported %d -> %d", exactBefore, exactAfter, before, after)
	if exactAfter >= exactBefore {
		t.Fatalf("the write did not change the exact free space (%d -> %d): the test proves nothing", exactBefore, exactAfter)
	}
	if after != before {
		t.Errorf("GetCapacity moved from %d to %d for a 256 KiB write; want the same figure within a %d byte step", before, after, step)
	}
	for _, c := range []struct{ exact, got int64 }{{exactBefore, before}, {exactAfter, after}} {
		if c.got > c.exact || c.got <= c.exact-step || c.got%step != 0 {
			t.Errorf("GetCapacity %d with %d bytes free: want the multiple of %d just below", c.got, c.exact, step)
		}
	}

	// Fill the disk to less than a step: nothing can be provisioned.
	exact, _ := statfs(t, mnt)
	fill(t, filepath.Join(fillDir, "full"), exact-step/2)
	exact, _ = statfs(t, mnt)
	if got := capacity(t, p); got != 0 {
		t.Errorf("GetCapacity %d with %d bytes (less than a %d byte step) free, want 0", got, exact, step)
	}

	// Freed, the space is reported again.
	if err := os.RemoveAll(fillDir); err != nil {
		t.Fatal(err)
	}
	exact, _ = statfs(t, mnt)
	if got := capacity(t, p); got <= exact-step || got > exact {
		t.Errorf("GetCapacity %d after freeing the disk, %d bytes free", got, exact)
	}
	e.assertNothingLeft(t)
	p.stop(t)
}

// statfs is the exact free space (for an unprivileged writer) and size of
// the filesystem holding dir.
func statfs(t *testing.T, dir string) (free, total int64) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize, int64(st.Blocks) * st.Bsize
}

// fill writes size bytes (allocated for real, then fsynced) to a new file.
func fill(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		t.Fatalf("fallocate %d bytes in %s: %v", size, path, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}
