package loop

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
	"k8s.io/mount-utils"
)

// A loop device's backing file is known to sysfs only as a path printed
// through the mount the file was opened on. When that mount belongs to
// another mount namespace — the plugin's previous container, gone after a
// restart or an upgrade — the path comes out relative to that mount's root:
// a state dir mounted into the container turns /var/lib/csi-blkio/volumes/
// <id>.img into /volumes/<id>.img (measured here). Comparing paths then
// finds nothing: stage attaches a second device, unstage and delete leave
// the device bound (leaking it), start-up recovery sees no device.
//
// The identity that holds across namespaces is the file's device and inode,
// which LOOP_GET_STATUS64 reports. Find compares those; BackingFile and List
// turn the printed path back into one valid here when the same directory is
// mounted here again (the new container's state dir), checking that the
// candidate is the very same file.

// fileID is a file's filesystem device and inode.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{dev: st.Dev, ino: st.Ino}, nil
}

// backingID asks the loop driver which file devicePath is bound to.
func backingID(devicePath string) (fileID, error) {
	f, err := os.Open(devicePath)
	if err != nil {
		return fileID{}, err
	}
	defer f.Close()
	info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if err != nil {
		return fileID{}, err
	}
	return fileID{dev: info.Device, ino: info.Inode}, nil
}

// mountInfoPath is this process's mount table.
const mountInfoPath = "/proc/self/mountinfo"

// localPath returns printed — the backing file of devicePath as sysfs
// printed it — as a path that names the same file in this mount namespace:
// printed itself when it does, else printed below a mount of the file's
// filesystem. It returns printed unchanged when neither names the file (the
// file's directory is not mounted here, or the device could not be asked).
func localPath(devicePath, printed string) string {
	id, err := backingID(devicePath)
	if err != nil {
		return printed
	}
	if got, err := statID(printed); err == nil && got == id {
		return printed
	}
	mounts, err := mount.ParseMountInfo(mountInfoPath)
	if err != nil {
		return printed
	}
	for _, m := range mounts {
		if uint32(m.Major) != unix.Major(id.dev) || uint32(m.Minor) != unix.Minor(id.dev) {
			continue
		}
		candidate := filepath.Join(m.MountPoint, printed)
		if got, err := statID(candidate); err == nil && got == id {
			return candidate
		}
	}
	return printed
}
