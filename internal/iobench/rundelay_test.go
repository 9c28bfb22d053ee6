package iobench

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil/race"
)

func TestFloorDropsByTheShareSpentWaiting(t *testing.T) {
	for _, c := range []struct {
		elapsed, waited time.Duration
		want            float64
	}{
		{time.Second, 0, 0.9},
		{time.Second, 250 * time.Millisecond, 0.675},
		{time.Second, 2 * time.Second, 0}, // never below 0
		{0, time.Second, 0.9},             // no run: the floor stays
	} {
		if got := Floor(0.9, c.elapsed, c.waited); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("Floor(0.9, %s, %s) = %v, want %v", c.elapsed, c.waited, got, c.want)
		}
	}
}

func TestReadRunDelay(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("143856459 1139573330 467\n"), 0o644)
	if d, err := readRunDelay(good); err != nil || d != 1139573330 {
		t.Errorf("readRunDelay = %v, %v; want 1.139573330s", d, err)
	}
	for _, c := range []string{"143856459\n", "143856459 \n", "143856459 11x9 467\n", "", "1 99999999999999999999 2\n"} {
		bad := filepath.Join(dir, "bad")
		os.WriteFile(bad, []byte(c), 0o644)
		if d, err := readRunDelay(bad); err == nil {
			t.Errorf("schedstat %q parsed as %v", c, d)
		}
	}
	if _, err := readRunDelay(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v", err)
	}
	// Benchmarks read it beside every timed call: it must not feed the
	// garbage collector more than the path's bytes for open(2).
	if a := testing.AllocsPerRun(100, func() { readRunDelay(good) }); a > 1 && !race.Enabled {
		t.Errorf("readRunDelay allocates %v times per call", a)
	}
	// The real file of this thread, where the kernel has one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, err := os.Stat("/proc/thread-self/schedstat"); err != nil {
		t.Skipf("no schedstat on this kernel: %v", err)
	}
	if _, err := ThreadRunDelay(); err != nil {
		t.Error(err)
	}
	if _, err := TaskRunDelay(os.Getpid()); err != nil {
		t.Error(err)
	}
}
