package throttle

import "strconv"

// V1Knob is one of the four cgroup v1 blk-throttle limit files. v1 keeps
// each knob in its own file, so one group's limits are up to four entries.
type V1Knob string

const (
	V1ReadBPS   V1Knob = "blkio.throttle.read_bps_device"
	V1WriteBPS  V1Knob = "blkio.throttle.write_bps_device"
	V1ReadIOPS  V1Knob = "blkio.throttle.read_iops_device"
	V1WriteIOPS V1Knob = "blkio.throttle.write_iops_device"
)

// V1Knobs lists the knobs in a fixed order (read before write, bytes before
// IOs) so that writes and tests are deterministic.
var V1Knobs = [4]V1Knob{V1ReadBPS, V1WriteBPS, V1ReadIOPS, V1WriteIOPS}

// V1Entry is one line of a v1 limit file. Value 0 is how v1 is told to
// drop the rule: writing "7:256 0" removes the device's line.
type V1Entry struct {
	Device Device
	Value  uint64
}

// String is the exact line the kernel accepts and prints: "7:256 10485760".
func (e V1Entry) String() string { return string(e.appendTo(make([]byte, 0, 48))) }

// appendTo appends the line String returns to b.
func (e V1Entry) appendTo(b []byte) []byte {
	b = append(e.Device.appendTo(b), ' ')
	return strconv.AppendUint(b, e.Value, 10)
}

// V1Entries splits limits into the entry for each knob, in V1Knobs order.
// Unlimited knobs come out as Value 0, which clears them.
func V1Entries(dev Device, l Limits) [4]V1Entry {
	return [4]V1Entry{
		{dev, l.ReadBytesPerSecond},
		{dev, l.WriteBytesPerSecond},
		{dev, l.ReadIOPS},
		{dev, l.WriteIOPS},
	}
}

// IOMaxEntry is one line of a cgroup v2 io.max file. All four keys are
// always written, so that a knob that became unlimited is reset to "max"
// rather than keeping its old value (the kernel merges partial lines).
// An entry with all four at max removes the device's line.
type IOMaxEntry struct {
	Device Device
	Limits Limits
}

// String is the exact line the kernel accepts and prints:
// "7:256 rbps=10485760 wbps=max riops=max wiops=max".
func (e IOMaxEntry) String() string { return string(e.appendTo(make([]byte, 0, 128))) }

// appendTo appends the line String returns to b.
func (e IOMaxEntry) appendTo(b []byte) []byte {
	return e.Limits.appendTo(append(e.Device.appendTo(b), ' '))
}
