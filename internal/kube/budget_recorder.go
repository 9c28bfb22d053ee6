package kube

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
)

// budgetRecorder records Events within the node's write budget. A Warning
// is prominent; a Normal Event (limits applied or changed, saturation) is
// not. An Event the budget refuses is dropped, not queued: Events are
// notices of a moment, the ThrottleGroup status keeps the state, and a
// queue of them would only replay old news. The drop is counted
// (csi_blkio_apiserver_writes_deferred_total{kind="event"}).
type budgetRecorder struct {
	record.EventRecorder
	budget *WriteBudget
}

// BudgetRecorder wraps rec so that its Events spend budget; a nil budget
// returns rec.
func BudgetRecorder(rec record.EventRecorder, budget *WriteBudget) record.EventRecorder {
	if budget == nil {
		return rec
	}
	return budgetRecorder{EventRecorder: rec, budget: budget}
}

func (r budgetRecorder) allow(eventtype string) bool {
	p := PriorityNumbers
	if eventtype == corev1.EventTypeWarning {
		p = PriorityChange
	}
	ok, _ := r.budget.Take("event", p)
	return ok
}

func (r budgetRecorder) Event(obj runtime.Object, eventtype, reason, message string) {
	if r.allow(eventtype) {
		r.EventRecorder.Event(obj, eventtype, reason, message)
	}
}

func (r budgetRecorder) Eventf(obj runtime.Object, eventtype, reason, format string, args ...any) {
	if r.allow(eventtype) {
		r.EventRecorder.Eventf(obj, eventtype, reason, format, args...)
	}
}

func (r budgetRecorder) AnnotatedEventf(obj runtime.Object, annotations map[string]string, eventtype, reason, format string, args ...any) {
	if r.allow(eventtype) {
		r.EventRecorder.AnnotatedEventf(obj, annotations, eventtype, reason, format, args...)
	}
}
