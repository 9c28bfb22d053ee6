package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
)

// rpcBuckets span a Probe (tens of microseconds) to a NodeStage that
// formats a large xfs volume (seconds); NodePublish sits in the low
// milliseconds, where the buckets are densest.
var rpcBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

func newRPCHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace,
		Name:      "grpc_request_duration_seconds",
		Help:      "Latency of the CSI gRPC calls csi-blkio served, by method and status code.",
		Buckets:   rpcBuckets,
	}, []string{"method", "code"})
}

// ObserveRPC records one call; it is the driver's RPC observer hook
// (driver.Deps.Observer), called from the driver's one interceptor.
// method is the bare RPC name ("NodePublishVolume").
func (m *Metrics) ObserveRPC(method string, code codes.Code, elapsed time.Duration) {
	m.rpc.WithLabelValues(method, code.String()).Observe(elapsed.Seconds())
}
