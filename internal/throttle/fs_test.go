package throttle

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/testutil/race"
)

// TestOSFSWriteFiles: the files of one directory written through one
// descriptor of it, in order, stopping at the first that fails, with the
// full path in the error; a missing directory fails before any write.
func TestOSFSWriteFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b", "d"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := [][]byte{[]byte("1"), []byte("2"), []byte("3"), []byte("4")}

	n, err := OSFS{}.WriteFiles(dir, []string{"a", "b", "c", "d"}, data)
	if n != 2 || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(dir, "c")) {
		t.Fatalf("WriteFiles with the third file missing = %d, %v; want 2 and ENOENT naming %s/c", n, err, dir)
	}
	for name, want := range map[string]string{"a": "1", "b": "2", "d": ""} {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != want {
			t.Errorf("%s holds %q, want %q", name, got, want)
		}
	}

	if n, err := (OSFS{}).WriteFiles(dir, []string{"d"}, data[3:]); n != 1 || err != nil {
		t.Fatalf("WriteFiles of an existing file = %d, %v", n, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "d")); string(got) != "4" {
		t.Errorf("d holds %q, want 4", got)
	}

	gone := filepath.Join(dir, "gone")
	if n, err := (OSFS{}).WriteFiles(gone, []string{"a"}, data[:1]); n != 0 || !isGone(err) {
		t.Fatalf("WriteFiles into a missing directory = %d, %v; want 0 and an error isGone takes", n, err)
	}
	if n, err := (OSFS{}).WriteFiles(filepath.Join(dir, "a"), []string{"a"}, data[:1]); n != 0 || err == nil {
		t.Fatalf("WriteFiles into a file = %d, %v; want 0 and an error", n, err)
	}
}

// TestV1WriteLimitsNamesTheFileThatFailed: the error of a write that fails
// part of the way names that knob's file and its line.
func TestV1WriteLimitsNamesTheFileThatFailed(t *testing.T) {
	dir := t.TempDir()
	// Only the set limit's file exists: it is written first, and the first
	// clear after it fails.
	if err := os.WriteFile(filepath.Join(dir, string(V1WriteBPS)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dev := Device{Major: 7, Minor: 3}
	err := NewV1("/", OSFS{}).WriteLimits(dir, dev, Limits{WriteBytesPerSecond: 1 << 20})
	want := `write "7:3 0" to ` + filepath.Join(dir, string(V1ReadBPS))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("WriteLimits = %v, want an error containing %q", err, want)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, string(V1WriteBPS))); string(got) != "7:3 1048576" {
		t.Errorf("%s holds %q, want the limit written first", V1WriteBPS, got)
	}
}

// TestOSFSReadFiles: the files of one directory read through one descriptor
// of it; the first that fails ends the read with its full path in the error,
// as a read of one file by its whole path does.
func TestOSFSReadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"a": "1\n", "b": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := OSFS{}.ReadFiles(dir, []string{"a", "b"})
	if err != nil || len(data) != 2 || string(data[0]) != "1\n" || len(data[1]) != 0 {
		t.Fatalf("ReadFiles = %q, %v; want [\"1\\n\" \"\"]", data, err)
	}
	data, err = OSFS{}.ReadFiles(dir, []string{"a", "c", "b"})
	if data != nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(dir, "c")) {
		t.Fatalf("ReadFiles with a missing file = %q, %v; want nil and ENOENT naming %s/c", data, err, dir)
	}
	var pe *fs.PathError
	if _, err := (OSFS{}).ReadFile(filepath.Join(dir, "c")); !errors.As(err, &pe) || pe.Path != filepath.Join(dir, "c") {
		t.Fatalf("ReadFile of a missing file: %v; want a PathError with path %s/c", err, dir)
	}
	if _, err := (OSFS{}).ReadFiles(filepath.Join(dir, "gone"), []string{"a"}); !isGone(err) {
		t.Fatalf("ReadFiles of a missing directory: %v; want an error isGone takes", err)
	}
}

// TestOpenAtPathsOnAndOffTheStack: a short path goes to the kernel from the
// stack without an allocation; a path too long for that buffer, or one
// holding a NUL, takes the unix package's way and behaves as it does.
func TestOpenAtPathsOnAndOffTheStack(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "f")
	deep := filepath.Join(dir, strings.Repeat("d", 200), strings.Repeat("e", 100))
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(deep, "f")
	if len(long) < len(cPath{}) || len(short) >= len(cPath{}) {
		t.Fatalf("paths of %d and %d bytes do not fall on both sides of %d", len(short), len(long), len(cPath{}))
	}
	for _, p := range []string{short, long} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := openAt(unix.AT_FDCWD, p, unix.O_RDONLY)
		if err != nil {
			t.Fatalf("openAt of %d bytes: %v", len(p), err)
		}
		unix.Close(fd)
		if _, err := openAt(unix.AT_FDCWD, p+"-missing", unix.O_RDONLY); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("openAt of a missing file of %d bytes: %v, want ENOENT", len(p), err)
		}
	}
	if _, err := openAt(unix.AT_FDCWD, short+"\x00x", unix.O_RDONLY); !errors.Is(err, unix.EINVAL) {
		t.Errorf("openAt of a path with a NUL: %v, want EINVAL", err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if fd, err := openAt(unix.AT_FDCWD, short, unix.O_RDONLY); err == nil {
			unix.Close(fd)
		}
	})
	if allocs > 0 && !race.Enabled {
		t.Errorf("openAt of a short path allocates %v times", allocs)
	}
}

// TestLinkCount: OSFS answers through Links, another FS through Stat, and
// both count a subdirectory's ".." link. Links of a short path asks statx
// from the stack, without an allocation; one too long for that takes
// stat(2) through the unix package and answers the same.
func TestLinkCount(t *testing.T) {
	checkLinkCounts(t)
	dir := t.TempDir()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := (OSFS{}).Links(dir); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 && !race.Enabled {
		t.Errorf("Links of a short path allocates %v times", allocs)
	}
	if statxRefused.Load() {
		t.Error("statx was given up on a kernel that has it")
	}
}

// checkLinkCounts checks the link counts that OSFS.Links and linkCount
// report: a path too long for the stack (stat(2) then), an empty directory,
// one with a child, a missing one.
func checkLinkCounts(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("d", 200), strings.Repeat("e", 100))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	if n, err := (OSFS{}).Links(long); err != nil || n != 2 {
		t.Errorf("a directory of %d bytes has %d links (%v), want 2", len(long), n, err)
	}
	if err := os.RemoveAll(filepath.Join(dir, strings.Repeat("d", 200))); err != nil {
		t.Fatal(err)
	}
	for _, f := range []FS{OSFS{}, statOnlyFS{OSFS{}}} {
		if n, ok := linkCount(f, dir); !ok || n != 2 {
			t.Errorf("%T: an empty directory has %d links (%v), want 2", f, n, ok)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []FS{OSFS{}, statOnlyFS{OSFS{}}} {
		if n, ok := linkCount(f, dir); !ok || n != 3 {
			t.Errorf("%T: a directory with one child has %d links (%v), want 3", f, n, ok)
		}
		if _, ok := linkCount(f, filepath.Join(dir, "missing")); ok {
			t.Errorf("%T: a missing directory has a link count", f)
		}
	}
}

// statOnlyFS hides OSFS.Links.
type statOnlyFS struct{ FS }
