package burst

import "github.com/csi-blkio/csi-blkio/internal/throttle"

// The four limits by index, named as the parameters name them. A bytes
// limit's bucket counts bytes, an IOPS limit's counts IOs.
var knobNames = [4]string{"readBytesPerSecond", "writeBytesPerSecond", "readIOPS", "writeIOPS"}

// knob points at limit i of l.
func knob(l *throttle.Limits, i int) *uint64 {
	switch i {
	case 0:
		return &l.ReadBytesPerSecond
	case 1:
		return &l.WriteBytesPerSecond
	case 2:
		return &l.ReadIOPS
	}
	return &l.WriteIOPS
}

// knobOf is the value of limit i of l.
func knobOf(l throttle.Limits, i int) uint64 { return *knob(&l, i) }

// counterOf is what limit i counts.
func counterOf(c throttle.Counters, i int) uint64 {
	switch i {
	case 0:
		return c.ReadBytes
	case 1:
		return c.WriteBytes
	case 2:
		return c.ReadIOs
	}
	return c.WriteIOs
}

// usedSince is what limit i counted from before to now; a counter that
// went down (a v1 container cgroup went away with its counts) counts zero
// for this interval rather than a wrapped-around huge number.
func usedSince(now, before throttle.Counters, i int) float64 {
	a, b := counterOf(now, i), counterOf(before, i)
	if a < b {
		return 0
	}
	return float64(a - b)
}
