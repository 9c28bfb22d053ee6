package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// Event reasons. On the Pod: the group's life as its owner sees it in
// `kubectl describe pod`. On the ThrottleGroup: what became of an edit.
const (
	// ReasonLimitsApplied (Normal): the group became Active, its limits in
	// the kernel.
	ReasonLimitsApplied = "LimitsApplied"
	// ReasonPlacementDegraded (Warning): the pod cgroup was not found; the
	// volume-scope fallback holds the IO while the plugin retries.
	ReasonPlacementDegraded = "PlacementDegraded"
	// ReasonSaturated (Normal): a knob ran at >= 90% of its limit for 3
	// samples in a row; once per episode. Normal, not Warning: the limit is
	// doing its job, and the pod's owner learns why IO is slow.
	ReasonSaturated = "Saturated"
	// ReasonStatsFailing (Warning): the stats worker gave up on the group
	// after its retries.
	ReasonStatsFailing = "StatsFailing"
	// ReasonLimitsRepaired (Warning): the readback found an entry that
	// something else changed or removed, and restored it.
	ReasonLimitsRepaired = "LimitsRepaired"
	// ReasonLimitsNotInKernel (Warning): the readback found an entry it
	// could not read or restore; the IO may not be held.
	ReasonLimitsNotInKernel = "LimitsNotInKernel"
	// ReasonLimitsChanged (Normal, on the ThrottleGroup): an edit of
	// spec.limits is in the kernel and the volume record.
	ReasonLimitsChanged = "LimitsChanged"
	// ReasonInvalidSpec (Warning, on the ThrottleGroup): an edit of
	// spec.limits was refused; the previous limits stay in force.
	ReasonInvalidSpec = "InvalidSpec"
)

// Component is the Events' source component.
const Component = "csi-blkio"

// NewRecorder starts an Event broadcaster writing to the apiserver through
// core and returns a recorder for node's Events and a stop function.
//
// Recording never blocks its caller: the broadcaster queues Events (up to
// client-go's 1000, dropping beyond) and one goroutine of its own writes
// them, retrying on failure; its correlator merges repeats and rate-limits
// each object's Events, so a flapping group cannot flood the apiserver.
func NewRecorder(ctx context.Context, core CoreAPI, node string) (record.EventRecorder, func(), error) {
	// The scheme names the objects Events are about: Pods and ThrottleGroups.
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartStructuredLogging(4)
	b.StartRecordingToSink(eventSink{core: core})
	rec := b.NewRecorder(scheme, corev1.EventSource{Component: Component, Host: node})
	klog.FromContext(ctx).V(2).Info("Recording Events", "component", Component, "node", node)
	return rec, b.Shutdown, nil
}

// eventSink is record.EventSink on CoreAPI. The broadcaster's sink has no
// context: each request is bounded by the client's request timeout, and an
// Event still being written when the plugin stops is lost, as with
// client-go's own sink.
type eventSink struct{ core CoreAPI }

func (s eventSink) Create(ev *corev1.Event) (*corev1.Event, error) {
	return s.core.CreateEvent(context.Background(), ev)
}

func (s eventSink) Update(ev *corev1.Event) (*corev1.Event, error) {
	return s.core.UpdateEvent(context.Background(), ev)
}

func (s eventSink) Patch(ev *corev1.Event, data []byte) (*corev1.Event, error) {
	return s.core.PatchEvent(context.Background(), ev, data)
}
