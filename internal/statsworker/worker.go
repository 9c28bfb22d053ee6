package statsworker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Options configure a Worker. Zero values take the defaults.
type Options struct {
	// Interval between resyncs, which enqueue every group (default 10s).
	Interval time.Duration
	// MaxRetries: after this many failed retries of a key in a row the
	// group gets a StatsFailing condition and the key is left until the
	// next resync (default 5).
	MaxRetries int
	// BaseDelay and MaxDelay bound the per-key exponential backoff
	// (defaults 200ms and 5s: five retries fit in one default interval).
	BaseDelay, MaxDelay time.Duration
	// Sinks receive every installed snapshot.
	Sinks []Sink
	// Clock reads the time of each sample. Rates come from the difference
	// of two readings, so a real clock's monotonic reading is used.
	Clock clock.PassiveClock
	// QueueName names the work queue for client-go's workqueue metrics
	// (default "csi_blkio_stats").
	QueueName string
	// MetricsProvider for the queue's metrics (nil: client-go's global one).
	MetricsProvider workqueue.MetricsProvider
}

// Worker samples the throttle groups' counters, installs their stats and
// hands them to the sinks.
type Worker struct {
	groups     Groups
	queue      workqueue.TypedRateLimitingInterface[throttle.Key]
	sinks      []Sink
	clock      clock.PassiveClock
	interval   time.Duration
	maxRetries int

	mu   sync.Mutex // guards prev
	prev map[throttle.Key]sample

	failures atomic.Uint64
}

// New returns a worker over groups; start it with Run.
func New(groups Groups, o Options) *Worker {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 200 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.QueueName == "" {
		o.QueueName = "csi_blkio_stats"
	}
	return &Worker{
		groups: groups,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[throttle.Key](o.BaseDelay, o.MaxDelay),
			workqueue.TypedRateLimitingQueueConfig[throttle.Key]{Name: o.QueueName, MetricsProvider: o.MetricsProvider}),
		sinks:      o.Sinks,
		clock:      o.Clock,
		interval:   o.Interval,
		maxRetries: o.MaxRetries,
		prev:       map[throttle.Key]sample{},
	}
}

// Enqueue asks for key to be synced. It never blocks, and a key already
// queued is not queued twice (invariant 5): it is the table's Notify.
func (w *Worker) Enqueue(key throttle.Key) { w.queue.Add(key) }

// EnqueueAfter asks for key to be synced once after d (a sink that had to
// hold a write back asks to be called again when it may write).
func (w *Worker) EnqueueAfter(key throttle.Key, d time.Duration) { w.queue.AddAfter(key, d) }

// StatsFailures counts the times a group's work gave up after its retries
// (the metrics sink exports it).
func (w *Worker) StatsFailures() uint64 { return w.failures.Load() }

// Len is the number of keys waiting in the queue.
func (w *Worker) Len() int { return w.queue.Len() }

// Run starts workers goroutines and the resync, and blocks until ctx is
// done; then it shuts the queue down and waits for the workers.
func (w *Worker) Run(ctx context.Context, workers int) {
	if workers < 1 {
		workers = 1
	}
	logger := klog.FromContext(ctx)
	logger.V(2).Info("Starting stats worker", "workers", workers, "interval", w.interval)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for w.processNextWorkItem(ctx) {
			}
		})
	}
	wg.Go(func() { w.resyncLoop(ctx) })
	<-ctx.Done()
	w.queue.ShutDown()
	wg.Wait()
	logger.V(2).Info("Stats worker stopped")
}

func (w *Worker) resyncLoop(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.resync()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// resync enqueues every group.
func (w *Worker) resync() {
	for _, k := range w.groups.Keys() {
		w.queue.Add(k)
	}
}

// processNextWorkItem handles one key; false when the queue shut down.
func (w *Worker) processNextWorkItem(ctx context.Context) bool {
	key, quit := w.queue.Get()
	if quit {
		return false
	}
	defer w.queue.Done(key)
	// Everything logged about this key, down to the sinks, carries it.
	logger := klog.FromContext(ctx).WithValues("group", key)
	ctx = klog.NewContext(ctx, logger)
	err := w.sync(ctx, key)
	switch {
	case err == nil:
		w.queue.Forget(key)
	case w.queue.NumRequeues(key) < w.maxRetries:
		logger.V(4).Info("Stats sync failed; retrying with backoff", "retries", w.queue.NumRequeues(key), "err", err)
		w.queue.AddRateLimited(key)
	default:
		w.queue.Forget(key)
		w.surface(ctx, key, err)
	}
	return true
}

// sync brings one group up to date: placement (a Degraded group's retry,
// v1 containers the watcher missed), the readback and repair of its kernel
// entries, a sample of its counters, the
// snapshot installed if the group is still the same incarnation, and the
// sinks told.
func (w *Worker) sync(ctx context.Context, key throttle.Key) error {
	if err := w.groups.Reconcile(ctx, key); err != nil {
		if errors.Is(err, throttle.ErrGroupNotFound) {
			w.forget(ctx, key)
			return nil
		}
		return err
	}
	// Trust the kernel, not the table: every sweep reads the group's
	// entries back and restores any that something else changed (the
	// outcome lands in the group's status for the sinks and the health
	// check). Per-entry failures are in the result; only a vanished group
	// is an error here.
	if _, err := w.groups.Readback(key); err != nil {
		if errors.Is(err, throttle.ErrGroupNotFound) {
			w.forget(ctx, key)
			return nil
		}
		return err
	}
	raw, inc, err := w.groups.ReadCounters(key)
	if err != nil {
		if errors.Is(err, throttle.ErrGroupNotFound) {
			w.forget(ctx, key)
			return nil
		}
		return err
	}
	now := w.clock.Now()
	w.mu.Lock()
	prev, ok := w.prev[key]
	w.mu.Unlock()
	var pp *sample
	if ok {
		pp = &prev
	}
	stats, next := advance(pp, inc, raw, now, w.interval/2)
	if !w.groups.InstallStats(key, inc, stats) {
		// Removed or re-created since the read: this result belongs to an
		// incarnation that is gone (invariant 7). The key was notified on
		// removal/creation, so the current incarnation gets its own sync.
		klog.FromContext(ctx).V(4).Info("Discarding stats of a previous incarnation", "incarnation", inc)
		return nil
	}
	w.mu.Lock()
	w.prev[key] = next
	w.mu.Unlock()
	w.groups.SetCondition(key, inc, throttle.Condition{Type: throttle.ConditionStatsFailing}, false)
	st, ok := w.groups.Get(key)
	if !ok || st.Incarnation != inc {
		return nil
	}
	klog.FromContext(ctx).V(5).Info("Stats installed", "stats", st.Stats)
	for _, s := range w.sinks {
		if err := s.Observe(ctx, st); err != nil {
			return fmt.Errorf("sink %T: %w", s, err)
		}
	}
	return nil
}

// forget drops what the worker and the sinks keep for a gone group
// (invariant 8).
func (w *Worker) forget(ctx context.Context, key throttle.Key) {
	w.mu.Lock()
	delete(w.prev, key)
	w.mu.Unlock()
	for _, s := range w.sinks {
		s.Forget(key)
	}
	klog.FromContext(ctx).V(4).Info("Forgot removed throttle group")
}

// surface makes a key that exhausted its retries visible (invariant 6): a
// StatsFailing condition on the group, the failure counter, an error log,
// and the sinks told (best effort: one of them may be what fails). The key
// comes back at the next resync.
func (w *Worker) surface(ctx context.Context, key throttle.Key, err error) {
	w.failures.Add(1)
	logger := klog.FromContext(ctx)
	logger.Error(err, "Stats of throttle group failing; giving up until the next resync", "retries", w.maxRetries)
	st, ok := w.groups.Get(key)
	if !ok {
		return
	}
	w.groups.SetCondition(key, st.Incarnation, throttle.Condition{
		Type:    throttle.ConditionStatsFailing,
		Reason:  "RetriesExhausted",
		Message: fmt.Sprintf("gave up after %d retries (trying again at the next resync): %v", w.maxRetries, err),
	}, true)
	if st, ok = w.groups.Get(key); !ok {
		return
	}
	for _, s := range w.sinks {
		if serr := s.Observe(ctx, st); serr != nil {
			logger.Error(serr, "Sink could not take the StatsFailing condition", "sink", fmt.Sprintf("%T", s))
		}
	}
}
