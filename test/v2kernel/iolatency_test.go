//go:build v2kernel && linux

package v2kernel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestLoopIOChargedOnTheDiskAndIOLatencyPlacement establishes the kernel
// facts docs/elastic.md builds on for cgroup v2: a volume's loop device
// (direct IO, as the driver attaches it) sits on a file of a filesystem on
// a "disk" (here a loop device over tmpfs: the VM has no disk), a cgroup
// writes to the volume, and the test reads which devices the write was
// charged on in the cgroup's io.stat, and on which devices io.latency
// accepts an entry.
func TestLoopIOChargedOnTheDiskAndIOLatencyPlacement(t *testing.T) {
	requireV2Kernel(t)
	disk, vols := volumesOnDisk(t, "vol")
	vol := vols[0]
	parent := mkCgroup(t, cgroupRoot, testutil.Prefix+"-iolat-"+randomHex(t, 4), controllers...)
	victim := mkCgroup(t, parent, "victim")

	const n = 8 << 20
	runIO(t, victim, ioJob{Path: vol.Path, Bytes: n, Block: 64 << 10, Direct: true})
	onVol, onDisk := ioStat(t, victim, vol.Device)["wbytes"], ioStat(t, victim, disk.Device)["wbytes"]
	t.Logf("a direct write of %d bytes to the volume %s is charged to the writer's cgroup: %d bytes on the volume, %d bytes on the disk %s under its backing file",
		n, vol.Device, onVol, onDisk, disk.Device)
	if onVol < n {
		t.Errorf("io.stat of the writer has %d bytes on the volume's device, want at least %d", onVol, n)
	}
	if onDisk < n {
		t.Errorf("io.stat of the writer has %d bytes on the disk under the volume, want at least %d: loop IO is not charged to the issuing cgroup", onDisk, n)
	}

	// Which of the kernel's work-conserving controllers this kernel has:
	// io.latency (CONFIG_BLK_CGROUP_IOLATENCY) on a cgroup, io.cost.qos
	// (CONFIG_BLK_CGROUP_IOCOST) on the root.
	var files []string
	entries, err := os.ReadDir(victim)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "io.") {
			files = append(files, e.Name())
		}
	}
	t.Logf("io files of a leaf cgroup: %v", files)
	if _, err := os.Stat(filepath.Join(victim, "io.latency")); err == nil {
		for _, d := range []throttle.Device{vol.Device, disk.Device} {
			line := d.String() + " target=2000"
			err := os.WriteFile(filepath.Join(victim, "io.latency"), []byte(line), 0)
			t.Logf("io.latency %q on %s: write error %v, reads back %q", line, d, err, cgroupLine(t, victim, "io.latency", d))
		}
	} else {
		t.Logf("no io.latency on this kernel (%v)", err)
	}
	qos := filepath.Join(cgroupRoot, "io.cost.qos")
	if _, err := os.Stat(qos); err != nil {
		t.Logf("no io.cost.qos on this kernel (%v)", err)
		return
	}
	for _, d := range []throttle.Device{vol.Device, disk.Device} {
		err := os.WriteFile(qos, []byte(d.String()+" enable=1"), 0)
		t.Logf("io.cost.qos enable on %s: write error %v, reads back %q", d, err, cgroupLine(t, cgroupRoot, "io.cost.qos", d))
		if err == nil {
			if err := os.WriteFile(qos, []byte(d.String()+" enable=0"), 0); err != nil {
				t.Errorf("disable io.cost on %s: %v", d, err)
			}
		}
	}
}
