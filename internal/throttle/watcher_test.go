package throttle

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// Two groups of one pod (two volumes) share one inotify watch: removing
// one group must not stop the other's containers from getting its limit.
func TestWatchSharedByGroupsOfOnePod(t *testing.T) {
	fx := newFixture(t, 1)
	fx.pod(t, testUID)
	k1, s1 := podSpec(testUID, limit8M, ScopePod)
	k2, s2 := podSpec(testUID, Limits{ReadIOPS: 10}, ScopePod)
	k2.VolumeID = "vol-2"
	s2.Device = Device{Major: 7, Minor: 257}
	ensure(t, fx.table, k1, s1)
	ensure(t, fx.table, k2, s2)
	if err := fx.table.Remove(context.Background(), k1); err != nil {
		t.Fatal(err)
	}
	ctr := fx.container(t, testUID, "ctr")
	testutil.Eventually(t, 5*time.Second, "the remaining group's limit on the new container", func() (bool, string) {
		return strings.TrimSpace(file(t, ctr, string(V1ReadIOPS))) == "7:257 10", ""
	})
	wantLines(t, ctr, string(V1WriteBPS)) // not the removed group's
}

// A lost-events overflow has every watched group rescanned by the worker.
func TestOverflowNotifiesEveryWatchedGroup(t *testing.T) {
	fx := newFixture(t, 1)
	k, _ := podSpec(testUID, limit8M, ScopePod)
	other := Key{VolumeID: "v2"}
	watchHandler{fx.table}.Overflow([]Key{k, other})
	if fx.notes.count(k) != 1 || fx.notes.count(other) != 1 {
		t.Fatalf("notified %v", fx.notes.keys)
	}
}

// TestAddWatchPaths: inotify_add_watch from the stack buffer and, for a
// path too long for it, the unix package's way; a missing path and a file
// fail as findPod expects (not there, not a directory).
func TestAddWatchPaths(t *testing.T) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("d", 200), strings.Repeat("e", 100))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, long} {
		if _, err := addWatch(fd, d, watchMask); err != nil {
			t.Errorf("watch of a directory of %d bytes: %v", len(d), err)
		}
		if _, err := addWatch(fd, d+"/missing", watchMask); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("watch of a missing path of %d bytes: %v, want ENOENT", len(d)+8, err)
		}
	}
	if _, err := addWatch(fd, file, watchMask); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("watch of a file: %v, want ENOTDIR", err)
	}
}
