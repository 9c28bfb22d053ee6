package kube

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// informerLoop is the controller idiom both of the plugin's controllers
// (live limits, VolumeAttributesClass changes) share: an informer fills a
// rate-limited queue of object keys, and workers sync one key at a time,
// forgetting it on success and requeueing it with backoff on an error.
type informerLoop struct {
	name     string // "live-limits controller", for the log
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
	sync     func(ctx context.Context, key string) error
	// failed is the log message of a failed sync; the key is logged as
	// keyName.
	failed, keyName string
}

// run runs the informer and workers until ctx ends. The informer retries
// an unreachable apiserver with backoff on its own; nothing here waits for
// it except the workers.
func (l informerLoop) run(ctx context.Context, workers int, startKV ...any) {
	logger := klog.FromContext(ctx)
	logger.V(2).Info("Starting "+l.name, startKV...)
	var wg sync.WaitGroup
	wg.Go(func() { l.informer.RunWithContext(ctx) })
	if cache.WaitForNamedCacheSyncWithContext(ctx, l.informer.HasSynced) {
		for range max(workers, 1) {
			wg.Go(func() {
				for l.processNextWorkItem(ctx) {
				}
			})
		}
	}
	<-ctx.Done()
	l.queue.ShutDown()
	wg.Wait()
	logger.V(2).Info("Stopped " + l.name)
}

func (l informerLoop) processNextWorkItem(ctx context.Context) bool {
	k, quit := l.queue.Get()
	if quit {
		return false
	}
	defer l.queue.Done(k)
	if err := l.sync(ctx, k); err != nil {
		klog.FromContext(ctx).Error(err, l.failed, l.keyName, k)
		l.queue.AddRateLimited(k)
		return true
	}
	l.queue.Forget(k)
	return true
}

// informerSource is what a controller's informer lists and watches: one
// kind of object, narrowed by a label selector on every call.
type informerSource struct {
	selector string
	list     func(context.Context, metav1.ListOptions) (runtime.Object, error)
	watch    func(context.Context, metav1.ListOptions) (watch.Interface, error)
	object   runtime.Object // an empty object of the kind
}

// newInformerQueue builds the informer of src and a rate-limited queue of
// object keys named queueName (the workqueue metrics' name label), and has
// the informer enqueue the key of every added and updated object, and of
// every deleted one when deletes is set.
func newInformerQueue(src informerSource, resync time.Duration, queueName string, metrics workqueue.MetricsProvider, deletes bool) (cache.SharedIndexInformer, workqueue.TypedRateLimitingInterface[string], error) {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = src.selector
			return src.list(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = src.selector
			return src.watch(ctx, opts)
		},
	}
	informer := cache.NewSharedIndexInformer(lw, src.object, resync, cache.Indexers{})
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: queueName, MetricsProvider: metrics})
	enqueue := func(obj any) {
		if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			queue.Add(k)
		}
	}
	handler := cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }}
	if deletes {
		handler.DeleteFunc = enqueue
	}
	if _, err := informer.AddEventHandler(handler); err != nil {
		return nil, nil, err
	}
	return informer, queue, nil
}
