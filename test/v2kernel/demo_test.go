//go:build v2kernel && linux

package v2kernel

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestDemoOnV2 runs `csi-blkio demo` on a real cgroup v2 kernel as a
// newcomer would: it passes (the limited volume within 0.9-1.1 of its
// limit, exit code 0), says the pod cgroup's io.max covers the container,
// and leaves nothing behind. The limit is low because the VM is emulated:
// the unlimited writer beside it reaches only ~100-300 MiB/s here.
func TestDemoOnV2(t *testing.T) {
	requireV2Kernel(t)
	bin, err := exec.LookPath("csi-blkio")
	if err != nil {
		t.Fatalf("the csi-blkio binary is not in the VM: %v", err)
	}
	// TMPDIR on ext4, as on a real machine: the VM's /tmp is tmpfs, without
	// O_DIRECT for the volumes' loop devices.
	tmp := filepath.Join(mkfsMount(t, attachLoop(t, 512<<20).Path), testutil.Prefix+"-tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "demo", "--duration", "6s", "--limit", "4Mi", "--size", "128Mi")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	t.Logf("csi-blkio demo:\n%s", out)
	if err != nil {
		t.Fatalf("csi-blkio demo: %v", err)
	}
	for _, want := range []string{"cgroup v2 at " + cgroupRoot, "covered by the pod cgroup's io.max", "PASS: the limited volume ran at", "removed everything"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) > 0 {
		t.Errorf("left in TMPDIR: %v (%v)", ents, err)
	}
	if left, _ := filepath.Glob(filepath.Join(cgroupRoot, "csi-blkio-demo-*")); len(left) > 0 {
		t.Errorf("demo cgroups left: %v", left)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), tmp+"/") {
		t.Errorf("mounts left below %s", tmp)
	}
}
