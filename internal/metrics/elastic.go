package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-blkio/csi-blkio/internal/elastic"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// ElasticStates is what the collector reads of the elastic controller
// (*elastic.Controller).
type ElasticStates interface {
	States() map[throttle.Key]elastic.GroupState
}

// ElasticCollector exports the elastic controller's view of every
// protected and elastic group at scrape time.
type ElasticCollector struct {
	groups Groups
	states ElasticStates

	held, heldSeconds, holds, target, latency *prometheus.Desc
}

// NewElasticCollector reads states (and groups, for the pod labels) at
// every scrape.
func NewElasticCollector(groups Groups, states ElasticStates) *ElasticCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, groupLabels, nil)
	}
	return &ElasticCollector{
		groups: groups, states: states,
		held:        d("group_elastic_held", "1 while an elastic group is held to its limits because a protected group on its disk misses its target, 0 while lifted."),
		heldSeconds: d("group_elastic_held_seconds_total", "Time an elastic group has spent held to its limits."),
		holds:       d("group_elastic_holds_total", "Times an elastic group was held again after being lifted."),
		target:      d("group_latency_target_seconds", "Latency target of a protected group."),
		latency:     d("group_latency_seconds", "Mean IO time of a protected group on its device over the last control period in which it did IO."),
	}
}

// Describe sends every descriptor.
func (c *ElasticCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.held, c.heldSeconds, c.holds, c.target, c.latency} {
		ch <- d
	}
}

// Collect reads the controller's last snapshot (one atomic load).
func (c *ElasticCollector) Collect(ch chan<- prometheus.Metric) {
	for k, s := range c.states.States() {
		st, ok := c.groups.Get(k)
		if !ok {
			continue
		}
		lv := []string{k.VolumeID, k.PodUID, st.Spec.Pod.Name, st.Spec.Pod.Namespace}
		if s.Elastic {
			held := 0.0
			if s.Held {
				held = 1
			}
			ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, held, lv...)
			ch <- prometheus.MustNewConstMetric(c.heldSeconds, prometheus.CounterValue, s.HeldTime.Seconds(), lv...)
			ch <- prometheus.MustNewConstMetric(c.holds, prometheus.CounterValue, float64(s.Holds), lv...)
		}
		if s.Protected {
			ch <- prometheus.MustNewConstMetric(c.target, prometheus.GaugeValue, s.Target.Seconds(), lv...)
			ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, s.Latency.Seconds(), lv...)
		}
	}
}

// newReactionHistogram: from the start of the control period in which a
// protected group missed its target to its disk's elastic groups being
// held. Buckets around the 100 ms default period.
func newReactionHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "elastic_reaction_seconds",
		Help:    "Time from the start of the control period in which a protected group missed its target to the elastic groups on its disk being held.",
		Buckets: []float64{.01, .025, .05, .1, .15, .2, .3, .5, 1, 2.5},
	}, []string{"disk"})
}

// AddElastic registers the elastic collector.
func (m *Metrics) AddElastic(groups Groups, states ElasticStates) error {
	return m.reg.Register(NewElasticCollector(groups, states))
}

// Held observes one hold's reaction time (elastic.Observer).
func (m *Metrics) Held(disk throttle.Device, reaction time.Duration) {
	m.react.WithLabelValues(disk.String()).Observe(reaction.Seconds())
}

var _ elastic.Observer = (*Metrics)(nil)
