package burst

import "github.com/csi-blkio/csi-blkio/internal/throttle"

// The four limits by index, named as the parameters name them. A bytes
// limit's bucket counts bytes, an IOPS limit's counts IOs.
var knobNames = [4]string{"readBytesPerSecond", "writeBytesPerSecond", "readIOPS", "writeIOPS"}

func knobOf(l throttle.Limits, i int) uint64 {
	switch i {
	case 0:
		return l.ReadBytesPerSecond
	case 1:
		return l.WriteBytesPerSecond
	case 2:
		return l.ReadIOPS
	}
	return l.WriteIOPS
}

func setKnob(l *throttle.Limits, i int, v uint64) {
	switch i {
	case 0:
		l.ReadBytesPerSecond = v
	case 1:
		l.WriteBytesPerSecond = v
	case 2:
		l.ReadIOPS = v
	default:
		l.WriteIOPS = v
	}
}

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
