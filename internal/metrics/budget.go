package metrics

import "github.com/prometheus/client_golang/prometheus"

// AddWriteBudget registers the node's apiserver write budget — its rate
// (csi_blkio_apiserver_write_budget_per_second) and burst
// (csi_blkio_apiserver_write_budget_burst) — and the writes it held back
// (csi_blkio_apiserver_writes_deferred_total by kind: create, status,
// event). It returns the hook that counts a deferred write.
func (m *Metrics) AddWriteBudget(perSecond float64, burst int) (func(kind string), error) {
	rate := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "apiserver_write_budget_per_second",
		Help: "Steady-state apiserver writes per second this node may make (ThrottleGroup creates and status, Events).",
	})
	rate.Set(perSecond)
	b := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "apiserver_write_budget_burst",
		Help: "Apiserver writes this node may make at once after a quiet spell.",
	})
	b.Set(float64(burst))
	deferred := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "apiserver_writes_deferred_total",
		Help: "Write attempts the node's apiserver write budget held back, by kind: a create or status write is tried again at each sync of its group (and counted again), an Event is dropped.",
	}, []string{"kind"})
	for _, k := range []string{"create", "status", "event"} {
		deferred.WithLabelValues(k)
	}
	for _, c := range []prometheus.Collector{rate, b, deferred} {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return func(kind string) { deferred.WithLabelValues(kind).Inc() }, nil
}
