package kube

import (
	"context"
	"sync"

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
