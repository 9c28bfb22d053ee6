package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/elastic"
	"github.com/csi-blkio/csi-blkio/internal/kube"
	"github.com/csi-blkio/csi-blkio/internal/metrics"
	"github.com/csi-blkio/csi-blkio/internal/statsworker"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// observers connect the throttle core to the outside: Prometheus
// (--metrics-address) and the Kubernetes API (--kubeconfig, or the
// in-cluster config in a pod). Either may be off. None of it is on the
// publish path: the sink runs on the stats worker, the controller and the
// Event broadcaster on goroutines of their own.
type observers struct {
	o Options

	metrics    *metrics.Metrics // nil: off
	metricsSrv *metrics.Server

	clients  *kube.Clients // nil: standalone
	recorder record.EventRecorder
	specs    *kube.SpecStates
	sink     *kube.Sink
	// driver is set once newNode built it; the sink asks it where a
	// group's limits came from.
	driver atomic.Pointer[driver.Driver]

	// worker is the stats worker, set once it exists; the sink's Requeue
	// reaches it through here (the sink is built before the worker).
	worker atomic.Pointer[statsworker.Worker]

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stops   []func()
	serving bool // the metrics server took over its listener
}

// newObservers builds what the stats worker needs at construction (its
// sinks and workqueue metrics). Binding the metrics address here makes a
// taken port fail the start, not a goroutine later.
func newObservers(ctx context.Context, o Options, backend throttle.Backend) (*observers, error) {
	obs := &observers{o: o, cancel: func() {}}
	if o.MetricsAddress != "" {
		obs.metrics = metrics.New()
		srv, err := obs.metrics.Listen(o.MetricsAddress)
		if err != nil {
			return nil, fmt.Errorf("--metrics-address: %w", err)
		}
		obs.metricsSrv = srv
	}
	clients, err := kube.NewClients(kube.ClientOptions{
		Kubeconfig: o.Kubeconfig, QPS: float32(o.KubeAPIQPS), Burst: o.KubeAPIBurst,
		UserAgent: fmt.Sprintf("csi-blkio/%s (%s)", version(), o.NodeID),
	})
	if errors.Is(err, kube.ErrStandalone) {
		klog.FromContext(ctx).Info("Standalone: no --kubeconfig and not in a pod; ThrottleGroups, Events and live limits are off")
		return obs, nil
	}
	if err != nil {
		return nil, err
	}
	obs.clients = clients
	rec, stopRec, err := kube.NewRecorder(ctx, clients.Kube, o.NodeID)
	if err != nil {
		return nil, err
	}
	obs.stops = append(obs.stops, stopRec)
	obs.specs = kube.NewSpecStates()
	onWrite, onPause, onDefer := func(string) {}, func(bool) {}, func(string) {}
	if obs.metrics != nil {
		onWrite, onPause = obs.metrics.ThrottleGroupWrite, obs.metrics.APIServerPaused
		if onDefer, err = obs.metrics.AddWriteBudget(o.WriteBudget.PerSecond, o.WriteBudget.Burst); err != nil {
			obs.stop()
			return nil, err
		}
	}
	// One budget for everything this node writes: the sink's objects and
	// status, and every Event (the sink's and the live-limits controller's).
	budget := kube.NewWriteBudget(kube.BudgetOptions{PerSecond: o.WriteBudget.PerSecond, Burst: o.WriteBudget.Burst, OnDefer: onDefer})
	rec = kube.BudgetRecorder(rec, budget)
	obs.recorder = rec
	obs.sink, err = kube.NewSink(kube.SinkOptions{
		Node: o.NodeID, Kube: clients.Kube, ThrottleGroups: clients.ThrottleGroups, Recorder: rec,
		Hierarchy: backend.Hierarchy(), Specs: obs.specs, OnWrite: onWrite, OnPause: onPause,
		Budget: budget, Requeue: obs.requeue,
		Sources: obs.limitsSource,
	})
	if err != nil {
		obs.stop()
		return nil, err
	}
	return obs, nil
}

// requeue has the stats worker sync key again after d (the sink's Requeue).
func (obs *observers) requeue(key throttle.Key, d time.Duration) {
	if w := obs.worker.Load(); w != nil {
		w.EnqueueAfter(key, d)
	}
}

// workerOptions are the stats worker's sinks and queue metrics.
func (obs *observers) workerOptions() statsworker.Options {
	var wo statsworker.Options
	if obs.sink != nil {
		wo.Sinks = []statsworker.Sink{obs.sink}
	}
	if obs.metrics != nil {
		wo.MetricsProvider = obs.metrics.WorkqueueProvider()
	}
	return wo
}

// elasticObserver is the elastic controller's reaction-time hook (a nil
// interface when metrics are off).
func (obs *observers) elasticObserver() elastic.Observer {
	if obs.metrics == nil {
		return nil
	}
	return obs.metrics
}

// rpcObserver is the driver's latency hook (a nil interface when off).
func (obs *observers) rpcObserver() driver.RPCObserver {
	if obs.metrics == nil {
		return nil
	}
	return obs.metrics
}

// start runs what needs the core, the driver and start-up recovery: the
// group collector, the recovery counters and the metrics server, and the
// live-limits controller.
func (obs *observers) start(ctx context.Context, core *throttleCore, d *driver.Driver, recovered driver.RecoveryReport) error {
	obs.worker.Store(core.worker)
	ctx, obs.cancel = context.WithCancel(ctx)
	if obs.metrics != nil {
		if err := obs.metrics.AddGroups(core.table, core.worker.StatsFailures); err != nil {
			return err
		}
		if err := obs.metrics.AddRepairs(core.table.Repairs); err != nil {
			return err
		}
		if core.elastic != nil {
			if err := obs.metrics.AddElastic(core.table, core.elastic); err != nil {
				return err
			}
		}
		obs.metrics.Recovered(driver.RecoveryActions(), recovered)
		obs.serving = true
		obs.wg.Go(func() {
			if err := obs.metricsSrv.Serve(ctx); err != nil {
				klog.FromContext(ctx).Error(err, "Metrics server stopped")
			}
		})
	}
	if obs.clients == nil {
		return nil
	}
	own := &kube.OwnSpecs{} // the specs the ModifyController writes, for the live-limits controller to know
	ctrl, err := kube.NewLimitsController(kube.LimitsControllerOptions{
		Node: obs.o.NodeID, ThrottleGroups: obs.clients.WatchThrottleGroups,
		Groups: core.table, Updater: d, Specs: obs.specs, Notify: core.worker.Enqueue, Own: own,
		Recorder: obs.recorder, Resync: obs.o.StatsInterval, MetricsProvider: obs.workerOptions().MetricsProvider,
	})
	if err != nil {
		return err
	}
	obs.wg.Go(func() { ctrl.Run(ctx, 1) })
	modify, err := kube.NewModifyController(kube.ModifyControllerOptions{
		Node: obs.o.NodeID, Driver: obs.o.DriverName, Kube: obs.clients.Kube, WatchKube: obs.clients.WatchKube,
		ThrottleGroups: obs.clients.ThrottleGroups, Own: own, Applier: d, Resync: obs.o.StatsInterval,
		MetricsProvider: obs.workerOptions().MetricsProvider,
	})
	if err != nil {
		return err
	}
	obs.wg.Go(func() { modify.Run(ctx, 1) })
	return nil
}

// modifyCarrier carries VolumeAttributesClass changes to the volume's node
// through the API; nil (standalone) lets the driver change its own volumes
// directly.
func (obs *observers) modifyCarrier() (driver.ModifyCarrier, error) {
	if obs.clients == nil {
		return nil, nil
	}
	return kube.NewModifyCarrier(kube.ModifyCarrierOptions{
		Driver: obs.o.DriverName, TopologyKey: driver.TopologyKey,
		Kube: obs.clients.Kube, WatchKube: obs.clients.WatchKube,
	})
}

// limitsSource answers the sink from the driver's volume records.
func (obs *observers) limitsSource(key throttle.Key) string {
	if d := obs.driver.Load(); d != nil {
		return string(d.LimitsSource(key))
	}
	return ""
}

// stop ends the controller and the metrics server and flushes the Event
// broadcaster. Call it after the stats worker stopped (its sink records).
func (obs *observers) stop() {
	obs.cancel()
	obs.wg.Wait()
	if obs.metricsSrv != nil && !obs.serving {
		_ = obs.metricsSrv.Close()
	}
	for _, s := range obs.stops {
		s()
	}
}
