package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BlkioV1 is where the v1 blkio hierarchy is mounted on the test machines.
const BlkioV1 = "/sys/fs/cgroup/blkio"

// RequireBlkioV1 skips unless the test runs as root on a host whose cgroup
// v1 blkio hierarchy can throttle.
func RequireBlkioV1(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	if _, err := os.Stat(filepath.Join(BlkioV1, "blkio.throttle.write_bps_device")); err != nil {
		t.Skipf("needs cgroup v1 blkio with throttling at %s: %v", BlkioV1, err)
	}
}

// NewCgroupParentV1 creates a uniquely named cgroup directly below the
// blkio root (csiblkio-test-<random>) to stand in for kubelet's
// --cgroup-root, so that kubelet-style trees the test builds below it never
// meet a real kubelet's kubepods. It returns its name relative to the
// hierarchy. Cleanup removes it and everything the test created below it,
// deepest first, after moving any process left in it to the root (only
// processes of this test can be there).
func NewCgroupParentV1(t testing.TB) string {
	t.Helper()
	RequireBlkioV1(t)
	b := make([]byte, 4)
	rand.Read(b)
	name := Prefix + "-" + hex.EncodeToString(b)
	dir := filepath.Join(BlkioV1, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroupTree(t, dir) })
	return name
}

// MkdirCgroupV1 creates the cgroup rel (and its parents) under the blkio
// hierarchy and returns its absolute path. Its parent must come from
// NewCgroupParentV1 so that cleanup removes it.
func MkdirCgroupV1(t testing.TB, rel string) string {
	t.Helper()
	if !strings.HasPrefix(rel, Prefix+"-") {
		t.Fatalf("cgroup %q is not under a %s- parent", rel, Prefix)
	}
	dir := filepath.Join(BlkioV1, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func removeCgroupTree(t testing.TB, top string) {
	var dirs []string
	// The walk function never fails, so WalkDir cannot: an unreadable
	// directory is simply not listed, and its removal below reports it.
	_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, d := range dirs {
		if procs, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil {
			for _, pid := range strings.Fields(string(procs)) {
				// Best effort: the process may have exited meanwhile; if it
				// is still there, the rmdir below fails and says so.
				_ = os.WriteFile(filepath.Join(BlkioV1, "cgroup.procs"), []byte(pid), 0)
			}
		}
		var err error
		for i := 0; i < 100; i++ {
			if err = os.Remove(d); err == nil || errors.Is(err, fs.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(20 * time.Millisecond) // a process still exiting
		}
		if err != nil {
			t.Errorf("removing test cgroup %s: %v", d, err)
		}
	}
}

// CommandInCgroup returns a command that moves itself into cgroup (an
// absolute cgroup directory) and only then execs name args, so that all of
// its IO is charged to that cgroup, as a container's is. The caller starts
// it; t.Cleanup kills it if it is still running.
func CommandInCgroup(t testing.TB, cgroup, name string, args ...string) *exec.Cmd {
	t.Helper()
	script := `echo $$ > "$0/cgroup.procs" && exec "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, cgroup, name}, args...)...)
	t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			// The test already failed or moved on; the exit status of a
			// killed helper tells nothing.
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// RemoveCgroupV1 removes one (empty) test cgroup, as runc does when a
// container exits.
func RemoveCgroupV1(t testing.TB, dir string) {
	t.Helper()
	if !strings.HasPrefix(dir, filepath.Join(BlkioV1, Prefix+"-")) {
		t.Fatalf("%s is not a test cgroup", dir)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
}
