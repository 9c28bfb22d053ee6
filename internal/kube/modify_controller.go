package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// ModifyApplier applies a VolumeAttributesClass change to a volume of this
// node (*driver.Driver).
type ModifyApplier interface {
	// PlanModify returns the volume limits the change would put in force,
	// without changing anything.
	PlanModify(ctx context.Context, volumeID string, m map[string]string) (throttle.Limits, error)
	// ModifyLimits applies the change: record, then kernel.
	ModifyLimits(ctx context.Context, volumeID string, m map[string]string) (throttle.Limits, error)
}

// ModifyControllerOptions configure the node side of VolumeAttributesClass
// changes.
type ModifyControllerOptions struct {
	Node   string
	Driver string
	// Kube patches PVs (time-limited); WatchKube lists and watches them.
	Kube      CoreAPI
	WatchKube CoreAPI
	// ThrottleGroups rewrites the spec.limits of the volume's groups;
	// Own tells each rewrite to the live-limits controller.
	ThrottleGroups *ThrottleGroups
	Own            *OwnSpecs
	Applier        ModifyApplier
	// Resync re-examines every labelled PV this often, so that a change
	// whose apply failed is retried even without an event.
	Resync          time.Duration
	MetricsProvider workqueue.MetricsProvider
}

// ModifyController applies the VolumeAttributesClass changes written on
// this node's PVs (ModifyCarrier labels a PV with its node when it writes a
// request, so the informer sees only this node's). For each pending request
// it rewrites the spec.limits of the volume's ThrottleGroups, applies the
// change through the driver, rewrites them again (a ThrottleGroup created
// meanwhile), and then records the request as applied on the PV, which is
// what the waiting ControllerModifyVolume sees. Parameters the driver
// refuses are recorded as refused; any other failure is retried with
// backoff, so a change is never lost.
//
// The spec rewrite before the kernel write is deliberate: the live-limits
// controller makes the kernel hold spec.limits, so a spec still showing the
// old limits would undo the class change. Each rewrite is told to that
// controller first (OwnSpecs), so that it neither applies the rewrite as a
// ThrottleGroup edit nor acts on the older spec its cache may still hold.
type ModifyController struct {
	o        ModifyControllerOptions
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
}

// NewModifyController builds the informer and the queue; Run starts them.
func NewModifyController(o ModifyControllerOptions) (*ModifyController, error) {
	if o.Node == "" || o.Driver == "" || o.Kube == nil || o.WatchKube == nil || o.ThrottleGroups == nil || o.Applier == nil {
		return nil, errors.New("kube.NewModifyController: Node, Driver, Kube, WatchKube, ThrottleGroups and Applier are required")
	}
	selector := labels.Set{LabelNode: NodeLabelValue(o.Node)}.String()
	pvs := o.WatchKube
	src := informerSource{
		selector: selector,
		list: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return pvs.ListPersistentVolumes(ctx, opts)
		},
		watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return pvs.WatchPersistentVolumes(ctx, opts)
		},
		object: &corev1.PersistentVolume{},
	}
	// A deleted PV has no change left to apply: deletions are not queued.
	informer, queue, err := newInformerQueue(src, o.Resync, "csi_blkio_modify", o.MetricsProvider, false)
	if err != nil {
		return nil, err
	}
	return &ModifyController{o: o, informer: informer, queue: queue}, nil
}

// HasSynced reports whether the informer listed the node's PVs once.
func (c *ModifyController) HasSynced() bool { return c.informer.HasSynced() }

// Run runs the informer and workers until ctx ends.
func (c *ModifyController) Run(ctx context.Context, workers int) {
	informerLoop{name: "VolumeAttributesClass controller", informer: c.informer, queue: c.queue, sync: c.sync,
		failed: "Applying a VolumeAttributesClass change failed; retrying", keyName: "pv"}.
		run(ctx, workers, "node", c.o.Node)
}

// sync applies the PV's pending request if it is not answered yet.
func (c *ModifyController) sync(ctx context.Context, k string) error {
	obj, exists, err := c.informer.GetIndexer().GetByKey(k)
	if err != nil || !exists {
		return err
	}
	pv := obj.(*corev1.PersistentVolume)
	if pv.Spec.CSI == nil || pv.Spec.CSI.Driver != c.o.Driver {
		return nil
	}
	req, ok, err := requestOf(pv)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Ignoring a malformed change request", "pv", pv.Name)
		return nil
	}
	if !ok {
		return nil
	}
	if done, _ := answer(pv, req.ID); done {
		return nil
	}
	id := pv.Spec.CSI.VolumeHandle
	logger := klog.FromContext(ctx).WithValues("pv", pv.Name, "volumeID", id, "request", req.ID)
	ctx = klog.NewContext(ctx, logger)
	limits, err := c.o.Applier.PlanModify(ctx, id, req.Parameters)
	if refused(err) {
		return c.refuse(ctx, pv.Name, req.ID, err)
	}
	if err != nil {
		return err
	}
	if err := c.rewriteSpecs(ctx, id, limits); err != nil {
		return err
	}
	if _, err := c.o.Applier.ModifyLimits(ctx, id, req.Parameters); err != nil {
		if refused(err) {
			return c.refuse(ctx, pv.Name, req.ID, err)
		}
		return err
	}
	if err := c.rewriteSpecs(ctx, id, limits); err != nil {
		return err
	}
	if err := c.annotate(ctx, pv.Name, map[string]any{AnnotationModifyApplied: req.ID, AnnotationModifyRefused: nil}); err != nil {
		return err
	}
	logger.V(2).Info("VolumeAttributesClass change applied", "limits", limits)
	return nil
}

// refused reports whether the driver refused the change for good: bad
// parameters, or a volume this node does not have.
func refused(err error) bool {
	c := status.Code(err)
	return err != nil && (c == codes.InvalidArgument || c == codes.NotFound)
}

func (c *ModifyController) refuse(ctx context.Context, pv, id string, cause error) error {
	st := status.Convert(cause)
	body, err := json.Marshal(modifyRefusal{ID: id, Code: st.Code().String(), Message: st.Message()})
	if err != nil {
		return err
	}
	klog.FromContext(ctx).Info("Refused a VolumeAttributesClass change; the volume keeps its limits", "reason", st.Message())
	return c.annotate(ctx, pv, map[string]any{AnnotationModifyRefused: string(body)})
}

func (c *ModifyController) annotate(ctx context.Context, pv string, annotations map[string]any) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return err
	}
	if _, err := c.o.Kube.PatchPersistentVolume(ctx, pv, types.MergePatchType, patch); err != nil {
		return fmt.Errorf("annotate PersistentVolume %s: %w", pv, err)
	}
	return nil
}

// rewriteSpecs makes spec.limits of every ThrottleGroup of the volume on
// this node say limits.
func (c *ModifyController) rewriteSpecs(ctx context.Context, volumeID string, limits throttle.Limits) error {
	list, err := c.o.ThrottleGroups.List(ctx, metav1.NamespaceAll, metav1.ListOptions{
		LabelSelector: labels.Set{LabelNode: NodeLabelValue(c.o.Node)}.String(),
	})
	if err != nil {
		return fmt.Errorf("list ThrottleGroups of node %s: %w", c.o.Node, err)
	}
	want := LimitsToAPI(limits)
	for _, tg := range list.Items {
		if tg.Spec.VolumeID != volumeID || tg.Spec.NodeName != c.o.Node {
			continue
		}
		if got, err := LimitsFromAPI(tg.Spec.Limits); err == nil && got == limits {
			continue
		}
		patch, err := json.Marshal([]map[string]any{
			{"op": "test", "path": "/metadata/uid", "value": tg.UID},
			{"op": "add", "path": "/spec/limits", "value": want},
		})
		if err != nil {
			return err
		}
		c.o.Own.Writing(&tg, limits)
		_, err = c.o.ThrottleGroups.Patch(ctx, tg.Namespace, tg.Name, types.JSONPatchType, patch)
		if err != nil {
			c.o.Own.Forget(tg.Namespace + "/" + tg.Name)
		}
		if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
			continue // deleted, or replaced by a new object (a failed test op): not this group any more
		}
		if err != nil {
			return fmt.Errorf("rewrite spec.limits of ThrottleGroup %s/%s: %w", tg.Namespace, tg.Name, err)
		}
		klog.FromContext(ctx).V(2).Info("ThrottleGroup spec.limits follow the VolumeAttributesClass", "throttleGroup", klog.KObj(&tg), "limits", limits)
	}
	return nil
}
