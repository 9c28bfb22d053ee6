package demo

import (
	"fmt"
	"math"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

// The demo measures and limits in the IO harness's units (bytes per
// second, or IOPS of 4 KiB random IO) and directions.
type (
	Unit = iobench.Unit
	Mode = iobench.Mode
)

const (
	UnitBytes = iobench.UnitBytes
	UnitIOPS  = iobench.UnitIOPS
	ModeWrite = iobench.ModeWrite
	ModeRead  = iobench.ModeRead
)

// containerFor names the container cgroup that does IO in mode m.
func containerFor(m Mode) string {
	if m == ModeRead {
		return "reader"
	}
	return "writer"
}

// formatBytes renders n bytes with a binary unit and three significant
// digits: "512 B", "20.0 MiB", "1.52 GiB".
func formatBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for math.Abs(n) >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return sigfig(n) + " " + units[i]
}

// sigfig prints v with three significant digits (at least the integer part).
func sigfig(v float64) string {
	switch a := math.Abs(v); {
	case a >= 99.95:
		return fmt.Sprintf("%.0f", v)
	case a >= 9.995:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// formatRate renders a rate in the unit's terms: "20.0 MiB/s", "500 IOPS".
func formatRate(u Unit, v float64) string {
	if u == UnitIOPS {
		return fmt.Sprintf("%.0f IOPS", v)
	}
	return formatBytes(v) + "/s"
}

// formatAmount renders a total in the unit's terms: "100 MiB", "2500 IOs".
func formatAmount(u Unit, v float64) string {
	if u == UnitIOPS {
		return fmt.Sprintf("%.0f IOs", v)
	}
	return formatBytes(v)
}
