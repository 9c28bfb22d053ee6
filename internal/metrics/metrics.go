// Package metrics exports csi-blkio's Prometheus metrics on a registry of
// its own: the throttle groups' counters and limits (read from the table's
// snapshots at scrape time), groups by phase, gRPC latency by method and
// code, and the client-go workqueue metrics of the stats worker and the
// live-limits controller.
//
// A registry of our own rather than prometheus.DefaultRegisterer: nothing
// another library registers globally leaks onto our endpoint, and tests can
// build as many independent instances as they like.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric csi-blkio defines itself.
const Namespace = "csi_blkio"

// Metrics owns the registry and the metrics that are pushed to (gRPC
// latency, workqueues); the group metrics are pulled (see AddGroups).
type Metrics struct {
	reg *prometheus.Registry
	rpc *prometheus.HistogramVec
	wq  *workqueueMetrics
	tgw *prometheus.CounterVec
	api prometheus.Gauge
	rec *prometheus.CounterVec
	// react is the elastic controller's reaction time (see Held).
	react *prometheus.HistogramVec
}

// New returns a registry holding the Go runtime and process collectors,
// the gRPC histogram and the workqueue metrics.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		rpc: newRPCHistogram(),
		wq:  newWorkqueueMetrics(),
		tgw: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "throttlegroup_writes_total",
			Help: "Writes of ThrottleGroup objects to the apiserver by this node (create, status), after coalescing.",
		}, []string{"verb"}),
		api: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "apiserver_paused",
			Help: "1 while csi-blkio leaves an unreachable or hung apiserver alone (ThrottleGroup writes paused, probed with backoff), else 0.",
		}),
		react: newReactionHistogram(),
		rec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "recovery_actions_total",
			Help: "What start-up recovery did (groups restored, orphaned loop devices detached, stale limits lifted, ...), by action.",
		}, []string{"action"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.rpc,
		m.tgw,
		m.api,
		m.rec,
		m.react,
	)
	m.wq.register(m.reg)
	return m
}

// AddGroups registers the collector of the throttle groups. failures is the
// stats worker's failure count (statsworker.Worker.StatsFailures); the
// worker is built after Metrics because it takes the workqueue provider.
func (m *Metrics) AddGroups(groups Groups, failures func() uint64) error {
	return m.reg.Register(NewGroupCollector(groups, failures))
}

// Registry is the registry everything is registered on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text and OpenMetrics
// formats. A collector that fails does not fail the whole scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg, // promhttp_metric_handler_errors_total
	})
}

// ThrottleGroupWrite counts one write of a ThrottleGroup (the sink's
// OnWrite hook); verb is "create" or "status".
func (m *Metrics) ThrottleGroupWrite(verb string) { m.tgw.WithLabelValues(verb).Inc() }

// APIServerPaused sets csi_blkio_apiserver_paused (the sink's OnPause hook).
func (m *Metrics) APIServerPaused(paused bool) {
	v := 0.0
	if paused {
		v = 1
	}
	m.api.Set(v)
}

// Recovered adds one start-up recovery's counts (action -> n) to
// csi_blkio_recovery_actions_total, every action in actions starting at 0
// so that an alert sees the series before the first orphan.
func (m *Metrics) Recovered(actions []string, counts map[string]int) {
	for _, a := range actions {
		m.rec.WithLabelValues(a)
	}
	for a, n := range counts {
		m.rec.WithLabelValues(a).Add(float64(n))
	}
}
