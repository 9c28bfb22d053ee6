package elastic

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestWholeDiskOfPartition: a partition's domain is its whole disk, found
// through the sysfs link (".." taken after resolving it, as sysfs lays
// out /sys/dev/block/MAJ:MIN -> ../../devices/.../vda/vda1).
func TestWholeDiskOfPartition(t *testing.T) {
	root := t.TempDir()
	disk := filepath.Join(root, "devices/virtio/block/vda")
	part := filepath.Join(disk, "vda1")
	for _, d := range []string{part, filepath.Join(root, "dev/block")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		filepath.Join(disk, "dev"): "254:0\n", filepath.Join(part, "dev"): "254:1\n", filepath.Join(part, "partition"): "1\n",
	} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"254:0": "../../devices/virtio/block/vda", "254:1": "../../devices/virtio/block/vda/vda1"} {
		if err := os.Symlink(target, filepath.Join(root, "dev/block", link)); err != nil {
			t.Fatal(err)
		}
	}
	s := SysDisks{Root: root}
	for in, want := range map[throttle.Device]throttle.Device{{Major: 254, Minor: 1}: {Major: 254}, {Major: 254}: {Major: 254}} {
		got, err := s.wholeDisk(in)
		if err != nil || got != want {
			t.Errorf("wholeDisk(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := s.DiskOf(throttle.Device{Major: 7, Minor: 9}); err == nil {
		t.Error("DiskOf a device that is no loop device succeeded")
	}
}
