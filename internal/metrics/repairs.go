package metrics

import "github.com/prometheus/client_golang/prometheus"

// AddRepairs registers csi_blkio_limit_repairs_total, read from count (the
// throttle table's Repairs) at scrape time: the kernel entries the stats
// worker's readback found changed or removed behind the plugin's back and
// restored. Anything above zero means something else on the node writes
// the plugin's cgroup files; the pods' LimitsRepaired Events say which.
func (m *Metrics) AddRepairs(count func() uint64) error {
	return m.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Name: "limit_repairs_total",
		Help: "Kernel throttle entries the readback found changed or removed by something else and restored.",
	}, func() float64 { return float64(count()) }))
}
