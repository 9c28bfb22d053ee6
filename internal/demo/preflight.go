package demo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// ErrNeedsRoot explains why the demo refuses to run unprivileged.
var ErrNeedsRoot = errors.New(`needs root. It does on this machine what the node plugin does on a Kubernetes node:
  - attaches two loop devices (/dev/loop-control) to files in a temporary directory,
  - formats them (mkfs.ext4) and mounts them,
  - creates a pod cgroup and a container cgroup under /sys/fs/cgroup and writes
    blk-throttle limits into them, then runs a writer in the container cgroup.
Run it as root: "sudo csi-blkio demo" (or "make demo" as root in the repository).
Everything it creates is removed when it ends, also on Ctrl-C`)

// preflight checks what the demo needs before it creates anything, and
// says how to get what is missing. It returns the cgroup backend.
func preflight(cgroupRoot string) (throttle.Backend, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNeedsRoot
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return nil, fmt.Errorf("no loop device support (%v): load the loop module (modprobe loop)", err)
	}
	var missing []string
	for _, tool := range []string{"mkfs.ext4", "blkid", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s not found in PATH: install them (Debian: apt-get install e2fsprogs util-linux mount; or run hack/deps.sh)",
			strings.Join(missing, ", "))
	}
	if cgroupRoot == "" {
		cgroupRoot = "/sys/fs/cgroup"
	}
	b, err := throttle.DetectBackend(cgroupRoot, nil)
	if err != nil {
		return nil, err
	}
	if b.Version() == 2 {
		// The demo creates its cgroups below the root and enables io in
		// them; the root's own subtree_control belongs to the host (systemd,
		// kubelet), so the demo asks rather than changing it.
		ctl := filepath.Join(b.Hierarchy(), "cgroup.subtree_control")
		c, err := os.ReadFile(ctl)
		if err != nil {
			return nil, err
		}
		if !strings.Contains(" "+strings.TrimSpace(string(c))+" ", " io ") {
			return nil, fmt.Errorf("cgroup v2 at %s does not enable the io controller for its children (%s: %q); "+
				"kubelet nodes do. Enable it with: echo +io > %s", b.Hierarchy(), ctl, strings.TrimSpace(string(c)), ctl)
		}
	}
	return b, nil
}
