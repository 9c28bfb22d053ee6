package throttle

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// Device is a block device number as the cgroup files write it ("7:256").
type Device struct {
	Major uint32
	Minor uint32
}

func (d Device) String() string { return string(d.appendTo(make([]byte, 0, 24))) }

// appendTo appends "MAJ:MIN" to b. The limit lines are built with
// strconv's appends rather than fmt: every Ensure formats four of them,
// and fmt's boxing and reflection cost more than the numbers themselves.
func (d Device) appendTo(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(d.Major), 10)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(d.Minor), 10)
}

// DeviceOf returns the device number of a block device node. It decodes rdev
// with unix.Major/unix.Minor: the Linux encoding splits the minor number
// across two fields, so rdev/256 and rdev%256 are wrong from loop256 on
// (7:256 would come out as 4103:0).
func DeviceOf(path string) (Device, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return Device{}, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return Device{}, fmt.Errorf("%s is not a block device", path)
	}
	return Device{Major: unix.Major(uint64(st.Rdev)), Minor: unix.Minor(uint64(st.Rdev))}, nil
}
