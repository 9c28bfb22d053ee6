package elastic

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DiskStat is the part of a disk's /sys/block/<disk>/stat the controller
// needs: completed IOs and the time they took, both cumulative.
type DiskStat struct {
	IOs uint64
	// Busy is the sum of the completed IOs' times (read, write, discard
	// and flush ticks). The kernel keeps nanoseconds and prints
	// milliseconds, so a short window averages over many IOs.
	Busy time.Duration
}

// Latency is the mean time of the IOs completed between prev and s, and
// the number of them; zero when none completed.
func (s DiskStat) Latency(prev DiskStat) (time.Duration, uint64) {
	if s.IOs <= prev.IOs || s.Busy < prev.Busy {
		return 0, 0
	}
	n := s.IOs - prev.IOs
	return (s.Busy - prev.Busy) / time.Duration(n), n
}

// ParseDiskStat parses the stat file of a block device (the format of
// Documentation/block/stat.rst): reads, read merges, read sectors, read
// ticks, writes, write merges, write sectors, write ticks, in flight, io
// ticks, time in queue, then (since 4.18) four discard fields and (since
// 5.5) two flush fields. Ticks are milliseconds.
func ParseDiskStat(data []byte) (DiskStat, error) {
	f := strings.Fields(string(data))
	if len(f) < 11 {
		return DiskStat{}, fmt.Errorf("block stat has %d fields, want at least 11", len(f))
	}
	num := func(i int) (uint64, error) {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("block stat field %d %q: %w", i+1, f[i], err)
		}
		return v, nil
	}
	// Pairs of (completed IOs, ticks): reads, writes, discards, flushes.
	pairs := [][2]int{{0, 3}, {4, 7}, {11, 14}, {15, 16}}
	var s DiskStat
	for _, p := range pairs {
		if p[1] >= len(f) {
			break
		}
		ios, err := num(p[0])
		if err != nil {
			return DiskStat{}, err
		}
		ticks, err := num(p[1])
		if err != nil {
			return DiskStat{}, err
		}
		s.IOs += ios
		s.Busy += time.Duration(ticks) * time.Millisecond
	}
	return s, nil
}
