package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/csi-blkio/csi-blkio/internal/elastic"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

type fakeStates map[throttle.Key]elastic.GroupState

func (f fakeStates) States() map[throttle.Key]elastic.GroupState { return f }

func TestElasticCollector(t *testing.T) {
	g := throttletest.NewGroups()
	victim := activeGroup("vol-v", "uid-1", "db", throttle.Limits{}, throttle.Stats{})
	aggr := activeGroup("vol-a", "uid-2", "batch", throttle.Limits{WriteBytesPerSecond: 100 << 20}, throttle.Stats{})
	aggr.Lifted = true // lifted to no limit: no limit series
	g.Set(victim)
	g.Set(aggr)
	states := fakeStates{
		victim.Key:         {Protected: true, Target: 2 * time.Millisecond, Latency: 3 * time.Millisecond},
		aggr.Key:           {Elastic: true, Held: false, HeldTime: 1500 * time.Millisecond, Holds: 2},
		{VolumeID: "gone"}: {Elastic: true},
	}
	want := `
# HELP csi_blkio_group_elastic_held 1 while an elastic group is held to its limits because a protected group on its disk misses its target, 0 while lifted.
# TYPE csi_blkio_group_elastic_held gauge
csi_blkio_group_elastic_held{namespace="team-a",pod="batch",pod_uid="uid-2",volume_id="vol-a"} 0
# HELP csi_blkio_group_elastic_held_seconds_total Time an elastic group has spent held to its limits.
# TYPE csi_blkio_group_elastic_held_seconds_total counter
csi_blkio_group_elastic_held_seconds_total{namespace="team-a",pod="batch",pod_uid="uid-2",volume_id="vol-a"} 1.5
# HELP csi_blkio_group_elastic_holds_total Times an elastic group was held again after being lifted.
# TYPE csi_blkio_group_elastic_holds_total counter
csi_blkio_group_elastic_holds_total{namespace="team-a",pod="batch",pod_uid="uid-2",volume_id="vol-a"} 2
# HELP csi_blkio_group_latency_seconds Mean IO time of a protected group on its device over the last control period in which it did IO.
# TYPE csi_blkio_group_latency_seconds gauge
csi_blkio_group_latency_seconds{namespace="team-a",pod="db",pod_uid="uid-1",volume_id="vol-v"} 0.003
# HELP csi_blkio_group_latency_target_seconds Latency target of a protected group.
# TYPE csi_blkio_group_latency_target_seconds gauge
csi_blkio_group_latency_target_seconds{namespace="team-a",pod="db",pod_uid="uid-1",volume_id="vol-v"} 0.002
`
	if err := testutil.CollectAndCompare(NewElasticCollector(g, states), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	// The group collector shows what the kernel holds: nothing while lifted.
	if n := testutil.CollectAndCount(NewGroupCollector(g, nil), "csi_blkio_group_limit_write_bytes_per_second"); n != 0 {
		t.Fatalf("%d write limit series for a lifted group, want 0", n)
	}
	m := New()
	m.Held(throttle.Device{Major: 254}, 120*time.Millisecond)
	if n := testutil.CollectAndCount(m.react); n != 1 {
		t.Fatalf("%d reaction series, want 1", n)
	}
}
