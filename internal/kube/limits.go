package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// LimitsUpdater applies a live limit change to the kernel and the volume
// record (*driver.Driver).
type LimitsUpdater interface {
	UpdateLimits(ctx context.Context, key throttle.Key, l throttle.Limits) error
}

// GroupReader reads the throttle table (*throttle.Table).
type GroupReader interface {
	Get(throttle.Key) (throttle.GroupStatus, bool)
}

// LimitsControllerOptions configure the live-limits controller.
type LimitsControllerOptions struct {
	Node string
	// ThrottleGroups lists and watches (Clients.WatchThrottleGroups).
	ThrottleGroups *ThrottleGroups
	Groups         GroupReader
	Updater        LimitsUpdater
	// Specs receives the outcome for the sink to write into the status;
	// Notify (the stats worker's Enqueue) makes the sink write it at once.
	Specs    *SpecStates
	Notify   func(throttle.Key)
	Recorder record.EventRecorder
	// Own tells the specs the plugin wrote itself for a
	// VolumeAttributesClass change (shared with the ModifyController);
	// nil treats every spec as the user's.
	Own *OwnSpecs
	// Resync re-examines every object this often even without a change
	// (the stats interval), so a failed apply is retried and a spec that
	// differs from the table for any reason converges.
	Resync          time.Duration
	MetricsProvider workqueue.MetricsProvider
}

// LimitsController watches this node's ThrottleGroups (selected by the
// node label) and makes the kernel hold what spec.limits say: a valid edit
// is applied through the driver (kernel and persisted record); an invalid
// one is refused with an InvalidSpec condition and Event while the old
// limits stay in force. It never rewrites spec: the user's edit stays
// visible beside status.appliedLimits, so the refusal is plain to see.
// It is level-based (the sample-controller idiom): every event and resync
// compares spec with the table.
type LimitsController struct {
	o        LimitsControllerOptions
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]

	mu      sync.Mutex
	keys    map[string]throttle.Key // object "ns/name" -> group, to forget on delete
	ignored map[string]int64        // object "ns/name" -> generation told ignored
}

// NewLimitsController builds the informer and the queue; Run starts them.
func NewLimitsController(o LimitsControllerOptions) (*LimitsController, error) {
	if o.Node == "" || o.ThrottleGroups == nil || o.Groups == nil || o.Updater == nil || o.Specs == nil || o.Recorder == nil {
		return nil, errors.New("kube.NewLimitsController: Node, ThrottleGroups, Groups, Updater, Specs and Recorder are required")
	}
	if o.Notify == nil {
		o.Notify = func(throttle.Key) {}
	}
	selector := labels.Set{LabelNode: NodeLabelValue(o.Node)}.String()
	src := informerSource{
		selector: selector,
		list: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return o.ThrottleGroups.List(ctx, metav1.NamespaceAll, opts)
		},
		watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return o.ThrottleGroups.Watch(ctx, metav1.NamespaceAll, opts)
		},
		object: &v1alpha1.ThrottleGroup{},
	}
	// Deletions are queued: sync forgets what it kept of a deleted object.
	informer, queue, err := newInformerQueue(src, o.Resync, "csi_blkio_throttlegroups", o.MetricsProvider, true)
	if err != nil {
		return nil, err
	}
	return &LimitsController{o: o, informer: informer, queue: queue, keys: map[string]throttle.Key{}, ignored: map[string]int64{}}, nil
}

// HasSynced reports whether the informer listed the node's objects once.
func (c *LimitsController) HasSynced() bool { return c.informer.HasSynced() }

// Run runs the informer and workers until ctx ends.
func (c *LimitsController) Run(ctx context.Context, workers int) {
	informerLoop{name: "live-limits controller", informer: c.informer, queue: c.queue, sync: c.sync,
		failed: "Applying ThrottleGroup limits failed; retrying", keyName: "throttleGroup"}.
		run(ctx, workers, "node", c.o.Node, "selector", LabelNode+"="+NodeLabelValue(c.o.Node))
}

// sync makes the kernel hold the object's spec.limits, or refuses them.
func (c *LimitsController) sync(ctx context.Context, k string) error {
	obj, exists, err := c.informer.GetIndexer().GetByKey(k)
	if err != nil {
		return err
	}
	if !exists {
		c.mu.Lock()
		key, ok := c.keys[k]
		delete(c.keys, k)
		delete(c.ignored, k)
		c.mu.Unlock()
		c.o.Own.Forget(k)
		if ok {
			c.o.Specs.Delete(key)
		}
		return nil
	}
	tg := obj.(*v1alpha1.ThrottleGroup)
	if tg.Spec.NodeName != c.o.Node {
		return nil // labelled for this node by someone else: not ours to act on
	}
	key := throttle.Key{VolumeID: tg.Spec.VolumeID, PodUID: string(tg.Spec.PodUID)}
	st, ok := c.o.Groups.Get(key)
	logger := klog.FromContext(ctx).WithValues("throttleGroup", klog.KObj(tg), "group", key)
	if why := unbound(tg, st, ok); why != "" {
		c.ignore(logger, k, tg, why)
		return nil
	}
	if !ok {
		return nil // not published here (any more); the object waits for GC
	}
	// Only a bound object is remembered: deleting an ignored one must not
	// clear the state of the group it named.
	c.mu.Lock()
	c.keys[k] = key
	delete(c.ignored, k)
	c.mu.Unlock()
	stale, own := c.o.Own.Judge(k, tg)
	if stale {
		// The cache has not seen the plugin's own newer spec yet; its
		// event is on the way, and acting on this one would undo it.
		return nil
	}
	want, err := LimitsFromAPI(tg.Spec.Limits)
	if err != nil {
		if c.o.Specs.Set(key, SpecState{Generation: tg.Generation, Invalid: err.Error()}) {
			logger.Info("Refused ThrottleGroup limits; previous limits stay in force", "err", err, "inForce", st.Spec.Limits)
			c.o.Recorder.Eventf(tg, corev1.EventTypeWarning, ReasonInvalidSpec,
				"Refused; %s stay in force. %v", HumanLimits(st.Spec.Limits), err)
			c.o.Notify(key)
		}
		return nil
	}
	// The plugin's own spec for a class change is applied by the
	// ModifyController (and retried there); applied here too, it would be
	// recorded as a ThrottleGroup edit of the group.
	if want != st.Spec.Limits && !own {
		err := c.o.Updater.UpdateLimits(ctx, key, want)
		if status.Code(err) == codes.NotFound {
			return nil // unpublished meanwhile
		}
		if err != nil {
			return fmt.Errorf("apply %s to %s: %w", want, key, err)
		}
		logger.V(2).Info("Applied ThrottleGroup limits", "limits", want, "was", st.Spec.Limits)
		c.o.Recorder.Eventf(tg, corev1.EventTypeNormal, ReasonLimitsChanged,
			"%s in force (was %s)", HumanLimits(want), HumanLimits(st.Spec.Limits))
	}
	if c.o.Specs.Set(key, SpecState{Generation: tg.Generation}) {
		c.o.Notify(key)
	}
	return nil
}

// ignore tells, once per generation of the object, why it changes nothing:
// a Warning Event on it and a log line. The resyncs find it again every
// interval; repeating the Event would only spend the node's write budget.
func (c *LimitsController) ignore(logger klog.Logger, k string, tg *v1alpha1.ThrottleGroup, why string) {
	c.mu.Lock()
	told, seen := c.ignored[k]
	c.ignored[k] = tg.Generation
	c.mu.Unlock()
	if seen && told == tg.Generation {
		return
	}
	logger.Info("Ignoring a ThrottleGroup that is not bound to a group of this node", "reason", why)
	c.o.Recorder.Eventf(tg, corev1.EventTypeWarning, ReasonThrottleGroupIgnored,
		"Ignored by node %s: %s. Its spec.limits change nothing; edit the ThrottleGroup the plugin created for the pod", c.o.Node, why)
}
