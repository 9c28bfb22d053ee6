// Package qemu_test checks the decisions of the qemu tiers' shell scripts
// that can be checked without a VM.
package qemu_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// knownGuestLockup runs stall.sh's known_guest_lockup on text and returns
// what it printed.
func knownGuestLockup(t *testing.T, text string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", `source ./stall.sh && known_guest_lockup "$(cat)"`)
	cmd.Env = append(os.Environ(), "stall_secs=240")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("known_guest_lockup: %v (stderr: %s)", err, stderrOf(err))
	}
	return strings.TrimSpace(string(out))
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// The lockup a CI run's first boot ended in: the tail of the kernel's panic
// after the NMI, as the run printed it (its first lines were cut there).
func TestKnownGuestLockupFindsTheCPUMaxWrite(t *testing.T) {
	trace, err := os.ReadFile("testdata/lockup-cpu-max.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := knownGuestLockup(t, string(trace))
	if !strings.Contains(got, "(tg_set_cfs_bandwidth)") || !strings.Contains(got, "cpu.max") {
		t.Errorf("known_guest_lockup on the cpu.max trace printed %q, want the CPU controller's lockup", got)
	}
}

// A hang anywhere else, the io controller's above all, is the node's to
// answer for: the boot fails instead of running again.
func TestKnownGuestLockupLeavesOtherHangsAlone(t *testing.T) {
	trace, err := os.ReadFile("testdata/lockup-cpu-max.txt")
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		// The same writer stuck in blk-throttle's io.max write.
		"io.max write": strings.NewReplacer(
			"tg_set_cfs_bandwidth+0x275/0x430", "tg_set_limit+0x1a5/0x4b0",
			"cpu_max_write+0xd6/0x130", "cgroup_file_write+0x8f/0x190",
		).Replace(string(trace)),
		// A frame whose name only ends in the known one.
		"longer name": "[  159.7]  xtg_set_cfs_bandwidth+0x275/0x430\n",
		// The name without a frame's offset, as a log line might carry it.
		"no frame": "e2ev2: tg_set_cfs_bandwidth is not ours\n",
		"nothing":  "",
	} {
		if got := knownGuestLockup(t, text); got != "" {
			t.Errorf("%s: known_guest_lockup printed %q, want nothing", name, got)
		}
	}
}
