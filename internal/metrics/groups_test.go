package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

func activeGroup(vol, uid, pod string, l throttle.Limits, s throttle.Stats) throttle.GroupStatus {
	return throttle.GroupStatus{
		Key:   throttle.Key{VolumeID: vol, PodUID: uid},
		Spec:  throttle.Spec{Limits: l, Scope: throttle.ScopePod, Pod: throttle.PodRef{UID: uid, Name: pod, Namespace: "team-a"}},
		Phase: throttle.PhaseActive,
		Stats: s,
	}
}

func TestCollectorExportsTotalsLimitsAndPhases(t *testing.T) {
	g := throttletest.NewGroups()
	g.Set(activeGroup("vol-a", "uid-1", "writer", throttle.Limits{WriteBytesPerSecond: 20 << 20, ReadIOPS: 1000},
		throttle.Stats{ReadBytes: 4096, WriteBytes: 10 << 20, ReadIOs: 1, WriteIOs: 10}))
	pending := activeGroup("vol-b", "uid-2", "reader", throttle.Limits{}, throttle.Stats{Pending: true})
	pending.Phase = throttle.PhasePending
	g.Set(pending)
	failures := uint64(3)
	c := NewGroupCollector(g, func() uint64 { return failures })

	want := `
# HELP csi_blkio_group_write_bytes_total Bytes written by the group's cgroups to its device (monotonic over the group's life).
# TYPE csi_blkio_group_write_bytes_total counter
csi_blkio_group_write_bytes_total{namespace="team-a",pod="writer",pod_uid="uid-1",volume_id="vol-a"} 1.048576e+07
# HELP csi_blkio_group_read_ios_total Read operations of the group's cgroups on its device.
# TYPE csi_blkio_group_read_ios_total counter
csi_blkio_group_read_ios_total{namespace="team-a",pod="writer",pod_uid="uid-1",volume_id="vol-a"} 1
# HELP csi_blkio_group_limit_write_bytes_per_second Write bytes per second limit of the group in the kernel; no series when unlimited.
# TYPE csi_blkio_group_limit_write_bytes_per_second gauge
csi_blkio_group_limit_write_bytes_per_second{namespace="team-a",pod="writer",pod_uid="uid-1",volume_id="vol-a"} 2.097152e+07
# HELP csi_blkio_group_limit_read_iops Read IOPS limit of the group in the kernel; no series when unlimited.
# TYPE csi_blkio_group_limit_read_iops gauge
csi_blkio_group_limit_read_iops{namespace="team-a",pod="writer",pod_uid="uid-1",volume_id="vol-a"} 1000
# HELP csi_blkio_groups Throttle groups on this node by phase (Pending, Active, Degraded).
# TYPE csi_blkio_groups gauge
csi_blkio_groups{phase="Active"} 1
csi_blkio_groups{phase="Degraded"} 0
csi_blkio_groups{phase="Pending"} 1
# HELP csi_blkio_stats_failures_total Times the stats worker gave up on a group after its retries (the group shows StatsFailing).
# TYPE csi_blkio_stats_failures_total counter
csi_blkio_stats_failures_total 3
`
	names := []string{
		"csi_blkio_group_write_bytes_total", "csi_blkio_group_read_ios_total",
		"csi_blkio_group_limit_write_bytes_per_second", "csi_blkio_group_limit_read_iops",
		"csi_blkio_groups", "csi_blkio_stats_failures_total",
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// The pending group has no counters, the unlimited knobs no series:
	// 4 counters + 2 limits of vol-a, 3 phases, 1 failure counter.
	if n := testutil.CollectAndCount(c); n != 10 {
		t.Errorf("collected %d series, want 10 (no counters for a pending group, no limit series for unlimited knobs)", n)
	}
}

func TestCollectorDropsRemovedGroupAndFollowsTotals(t *testing.T) {
	g := throttletest.NewGroups()
	st := activeGroup("vol-a", "uid-1", "writer", throttle.Limits{WriteBytesPerSecond: 1 << 20}, throttle.Stats{WriteBytes: 100})
	g.Set(st)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewGroupCollector(g, nil))

	if v := writeBytes(t, reg, "vol-a"); v != 100 {
		t.Fatalf("write bytes = %v, want 100", v)
	}
	st.Stats.WriteBytes = 5000
	g.Set(st)
	if v := writeBytes(t, reg, "vol-a"); v != 5000 {
		t.Fatalf("write bytes after the next sample = %v, want 5000", v)
	}
	g.Remove(st.Key)
	if v := writeBytes(t, reg, "vol-a"); v != -1 {
		t.Fatalf("removed group still exported (write bytes %v)", v)
	}
}

// writeBytes gathers reg and returns vol's write total, -1 when absent.
func writeBytes(t *testing.T, reg *prometheus.Registry, vol string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "csi_blkio_group_write_bytes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "volume_id" && l.GetValue() == vol {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}
