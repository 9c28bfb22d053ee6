package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

func TestCollectorExportsBurstBalance(t *testing.T) {
	g := throttletest.NewGroups()
	st := activeGroup("vol-a", "uid-1", "writer", throttle.Limits{WriteBytesPerSecond: 8 << 20}, throttle.Stats{WriteBytes: 1})
	st.Boost = throttle.Limits{WriteBytesPerSecond: 40 << 20}
	st.Burst = &throttle.BurstState{Seconds: 5, Buckets: []throttle.Bucket{{
		Knob: "writeBytesPerSecond", Baseline: 8 << 20, Rate: 40 << 20, Capacity: 160 << 20, Balance: 40 << 20, Bursting: true,
	}}}
	g.Set(st)
	g.Set(activeGroup("vol-b", "uid-2", "other", throttle.Limits{WriteIOPS: 100}, throttle.Stats{}))
	c := NewGroupCollector(g, nil)
	want := `
# HELP csi_blkio_group_burst_active 1 while the kernel holds the limit's burst rate, 0 while it holds the baseline.
# TYPE csi_blkio_group_burst_active gauge
csi_blkio_group_burst_active{limit="writeBytesPerSecond",namespace="team-a",pod="writer",pod_uid="uid-1",volume_id="vol-a"} 1
# HELP csi_blkio_group_burst_balance_ratio Burst credit left in the limit's bucket, as a fraction of a full bucket (0-1).
# TYPE csi_blkio_group_burst_balance_ratio gauge
csi_blkio_group_burst_balance_ratio{limit="writeBytesPerSecond",namespace="team-a",pod="writer",pod_uid="uid-1",volume_id="vol-a"} 0.25
# HELP csi_blkio_group_burst_seconds_left How long the burst credit left sustains the limit's burst rate, in seconds.
# TYPE csi_blkio_group_burst_seconds_left gauge
csi_blkio_group_burst_seconds_left{limit="writeBytesPerSecond",namespace="team-a",pod="writer",pod_uid="uid-1",volume_id="vol-a"} 1.25
# HELP csi_blkio_group_limit_write_bytes_per_second Write bytes per second limit of the group in the kernel; no series when unlimited.
# TYPE csi_blkio_group_limit_write_bytes_per_second gauge
csi_blkio_group_limit_write_bytes_per_second{namespace="team-a",pod="writer",pod_uid="uid-1",volume_id="vol-a"} 4.194304e+07
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"csi_blkio_group_burst_active", "csi_blkio_group_burst_balance_ratio", "csi_blkio_group_burst_seconds_left",
		"csi_blkio_group_limit_write_bytes_per_second"); err != nil {
		t.Error(err)
	}
}
