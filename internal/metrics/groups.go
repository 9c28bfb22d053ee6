package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Groups is what the collector reads of the throttle table (*throttle.Table).
type Groups interface {
	Keys() []throttle.Key
	Get(throttle.Key) (throttle.GroupStatus, bool)
}

// groupLabels identify a group. They are bounded per node: one set per
// published (pod, volume) pair, and a series disappears with its group.
var groupLabels = []string{"volume_id", "pod_uid", "pod", "namespace"}

// GroupCollector turns the table's snapshots into constant metrics at scrape
// time. Nothing is kept between scrapes, so a removed group's series vanish
// with it, and the counters are the worker's monotonic totals (carried over
// when a container cgroup goes away), never a value we accumulate ourselves.
type GroupCollector struct {
	groups   Groups
	failures func() uint64

	readBytes, writeBytes, readIOs, writeIOs     *prometheus.Desc
	limitRBPS, limitWBPS, limitRIOPS, limitWIOPS *prometheus.Desc
	byPhase                                      *prometheus.Desc
	statsFailures                                *prometheus.Desc
	burst                                        burstDescs
}

// NewGroupCollector reads groups at every scrape; failures may be nil.
func NewGroupCollector(groups Groups, failures func() uint64) *GroupCollector {
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	return &GroupCollector{
		groups:   groups,
		failures: failures,

		readBytes:  d("group_read_bytes_total", "Bytes read by the group's cgroups from its device (monotonic over the group's life).", groupLabels),
		writeBytes: d("group_write_bytes_total", "Bytes written by the group's cgroups to its device (monotonic over the group's life).", groupLabels),
		readIOs:    d("group_read_ios_total", "Read operations of the group's cgroups on its device.", groupLabels),
		writeIOs:   d("group_write_ios_total", "Write operations of the group's cgroups on its device.", groupLabels),

		// An unlimited knob has no series rather than 0: "0" would read as a
		// limit of nothing, and rate(...) / limit would divide by zero in
		// alerts. `absent()` or `unless` find the unlimited ones.
		limitRBPS:  d("group_limit_read_bytes_per_second", "Read bytes per second limit of the group in the kernel; no series when unlimited.", groupLabels),
		limitWBPS:  d("group_limit_write_bytes_per_second", "Write bytes per second limit of the group in the kernel; no series when unlimited.", groupLabels),
		limitRIOPS: d("group_limit_read_iops", "Read IOPS limit of the group in the kernel; no series when unlimited.", groupLabels),
		limitWIOPS: d("group_limit_write_iops", "Write IOPS limit of the group in the kernel; no series when unlimited.", groupLabels),

		byPhase:       d("groups", "Throttle groups on this node by phase (Pending, Active, Degraded).", []string{"phase"}),
		statsFailures: d("stats_failures_total", "Times the stats worker gave up on a group after its retries (the group shows StatsFailing).", nil),
		burst:         newBurstDescs(d),
	}
}

// Describe sends every descriptor: the collector is checked by the registry.
func (c *GroupCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.readBytes, c.writeBytes, c.readIOs, c.writeIOs,
		c.limitRBPS, c.limitWBPS, c.limitRIOPS, c.limitWIOPS,
		c.byPhase, c.statsFailures,
	} {
		ch <- d
	}
	c.burst.describe(ch)
}

// Collect reads each group's last snapshot (atomic loads in the table; no
// IO, no lock held across groups).
func (c *GroupCollector) Collect(ch chan<- prometheus.Metric) {
	phases := map[throttle.Phase]int{throttle.PhasePending: 0, throttle.PhaseActive: 0, throttle.PhaseDegraded: 0}
	for _, k := range c.groups.Keys() {
		st, ok := c.groups.Get(k)
		if !ok {
			continue // removed since Keys
		}
		phases[st.Phase]++
		lv := []string{k.VolumeID, k.PodUID, st.Spec.Pod.Name, st.Spec.Pod.Namespace}
		// A group without a sample has no counters yet (invariant 4): no
		// series rather than zeros that a later sample would jump from.
		if !st.Stats.Pending {
			c.counter(ch, c.readBytes, st.Stats.ReadBytes, lv)
			c.counter(ch, c.writeBytes, st.Stats.WriteBytes, lv)
			c.counter(ch, c.readIOs, st.Stats.ReadIOs, lv)
			c.counter(ch, c.writeIOs, st.Stats.WriteIOs, lv)
		}
		// What the kernel holds: raised while a burst has credit, the
		// elastic lift while lifted.
		l := st.KernelLimits()
		c.limit(ch, c.limitRBPS, l.ReadBytesPerSecond, lv)
		c.limit(ch, c.limitWBPS, l.WriteBytesPerSecond, lv)
		c.limit(ch, c.limitRIOPS, l.ReadIOPS, lv)
		c.limit(ch, c.limitWIOPS, l.WriteIOPS, lv)
		c.burst.collect(ch, st.Burst, lv)
	}
	for p, n := range phases {
		ch <- prometheus.MustNewConstMetric(c.byPhase, prometheus.GaugeValue, float64(n), string(p))
	}
	if c.failures != nil {
		ch <- prometheus.MustNewConstMetric(c.statsFailures, prometheus.CounterValue, float64(c.failures()))
	}
}

func (c *GroupCollector) counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, lv []string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
}

func (c *GroupCollector) limit(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, lv []string) {
	if v == 0 {
		return
	}
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), lv...)
}
