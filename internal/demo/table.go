package demo

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// result is one volume's outcome: what its IO process measured, and what
// the stats worker sampled for its throttle group.
type result struct {
	Name string
	Unit Unit
	Mode Mode
	// Limit in the unit; 0 = unlimited.
	Limit float64
	// Total is what the IO process did (bytes or IOs), Achieved that over
	// its elapsed time.
	Total, Achieved float64
	// Elapsed is how long the IO ran; Waited how much of it the IO process
	// waited for a CPU (Report.Waited).
	Elapsed, Waited time.Duration
	// Group is the group's status after the worker sampled the whole IO.
	Group throttle.GroupStatus
	// WorkerRate is the group's rate at the worker's last sample taken
	// while the IO ran (a full interval of IO); 0 when there was none.
	WorkerRate float64
}

// ratio is achieved/limit, false for an unlimited volume.
func (r result) ratio() (float64, bool) {
	if r.Limit <= 0 {
		return 0, false
	}
	return r.Achieved / r.Limit, true
}

// workerTotal is the group's counter for the IO's direction and unit.
func (r result) workerTotal() float64 {
	s := r.Group.Stats
	switch {
	case r.Unit == UnitIOPS && r.Mode == ModeRead:
		return float64(s.ReadIOs)
	case r.Unit == UnitIOPS:
		return float64(s.WriteIOs)
	case r.Mode == ModeRead:
		return float64(s.ReadBytes)
	}
	return float64(s.WriteBytes)
}

// statsRate picks the rate of the IO's direction and unit from a sample.
func statsRate(s throttle.Stats, u Unit, m Mode) float64 {
	switch {
	case u == UnitIOPS && m == ModeRead:
		return s.ReadIOPS
	case u == UnitIOPS:
		return s.WriteIOPS
	case m == ModeRead:
		return s.ReadBytesPerSecond
	}
	return s.WriteBytesPerSecond
}

// renderTable writes the final table: limit, achieved and ratio from the
// IO processes, then the throttle group as the stats worker saw it.
func renderTable(w io.Writer, rs []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  volume\tlimit\tachieved\tratio\tIO total\t| group phase\tworker rate\tworker total\tcgroups with the group's entry")
	for _, r := range rs {
		limit, ratio := "none", "-"
		if q, ok := r.ratio(); ok {
			limit, ratio = formatRate(r.Unit, r.Limit), fmt.Sprintf("%.3f", q)
		}
		rate, total := "-", "-"
		if !r.Group.Stats.Pending {
			rate, total = formatRate(r.Unit, r.WorkerRate), formatAmount(r.Unit, r.workerTotal())
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t| %s\t%s\t%s\t%s\n", r.Name, limit, formatRate(r.Unit, r.Achieved), ratio,
			formatAmount(r.Unit, r.Total), r.Group.Phase, rate, total, cgroupNames(r.Group))
	}
	tw.Flush()
}

// cgroupNames names a group's cgroups relative to its pod cgroup ("pod",
// "pod/writer"), or by path when outside it (the v1 root-level entry, v2
// kubepods).
func cgroupNames(st throttle.GroupStatus) string {
	var out []string
	for _, c := range st.Cgroups {
		switch rel, err := filepath.Rel(st.PodCgroup, c); {
		case st.PodCgroup == "" || err != nil || strings.HasPrefix(rel, ".."):
			out = append(out, c)
		case rel == ".":
			out = append(out, "pod")
		default:
			out = append(out, "pod/"+rel)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}
