package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// burstLabels: a group's labels plus the limit whose bucket it is.
var burstLabels = append(append([]string(nil), groupLabels...), "limit")

// burstDescs are the per-bucket series of the groups that have a burst; a
// group without a burst has none.
type burstDescs struct {
	balance, secondsLeft, bursting *prometheus.Desc
}

func newBurstDescs(d func(name, help string, labels []string) *prometheus.Desc) burstDescs {
	return burstDescs{
		balance: d("group_burst_balance_ratio",
			"Burst credit left in the limit's bucket, as a fraction of a full bucket (0-1).", burstLabels),
		secondsLeft: d("group_burst_seconds_left",
			"How long the burst credit left sustains the limit's burst rate, in seconds.", burstLabels),
		bursting: d("group_burst_active",
			"1 while the kernel holds the limit's burst rate, 0 while it holds the baseline.", burstLabels),
	}
}

func (b burstDescs) describe(ch chan<- *prometheus.Desc) {
	ch <- b.balance
	ch <- b.secondsLeft
	ch <- b.bursting
}

func (b burstDescs) collect(ch chan<- prometheus.Metric, st *throttle.BurstState, lv []string) {
	if st == nil {
		return
	}
	for _, k := range st.Buckets {
		l := append(append([]string(nil), lv...), k.Knob)
		active := 0.0
		if k.Bursting {
			active = 1
		}
		ch <- prometheus.MustNewConstMetric(b.balance, prometheus.GaugeValue, k.Ratio(), l...)
		ch <- prometheus.MustNewConstMetric(b.secondsLeft, prometheus.GaugeValue, k.SecondsLeft(), l...)
		ch <- prometheus.MustNewConstMetric(b.bursting, prometheus.GaugeValue, active, l...)
	}
}
