package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fileID is a file's filesystem device and inode: what a loop device
// reports of its backing file (LOOP_GET_STATUS64), whatever mount
// namespace attached it.
type fileID struct{ dev, ino uint64 }

func statID(t *testing.T, path string) fileID {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return fileID{st.Dev, st.Ino}
}

// checkNoLoopOf fails t when a loop device is still bound to the deleted
// file id: the plugin leaked it (it keeps the file's blocks allocated, and
// nothing would ever detach it). An inode number reused by a new, live
// file does not count: a leaked device's file is unlinked.
func checkNoLoopOf(t *testing.T, id fileID) {
	t.Helper()
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(b)), "(deleted)") {
			continue
		}
		dev := "/dev/" + filepath.Base(filepath.Dir(filepath.Dir(f)))
		d, err := os.Open(dev)
		if err != nil {
			continue
		}
		info, err := unix.IoctlLoopGetStatus64(int(d.Fd()))
		d.Close()
		if err == nil && info.Device == id.dev && info.Inode == id.ino {
			t.Errorf("%s is still bound to the deleted backing file (sysfs: %s): the plugin leaked it", dev, strings.TrimSpace(string(b)))
		}
	}
}
