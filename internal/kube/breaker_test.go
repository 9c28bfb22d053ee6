package kube

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

func TestBreaker(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_800_000_000, 0))
	b := newBreaker(clk, 5*time.Second, 20*time.Second)
	refused := fmt.Errorf("get pod: %w", syscall.ECONNREFUSED)

	if !b.allow() {
		t.Fatal("a new breaker is not closed")
	}
	if opened, _ := b.done(apierrors.NewForbidden(v1alpha1.Resource("throttlegroups"), "x", nil)); opened {
		t.Fatal("a forbidden request opened the breaker: it is about one object, not the apiserver")
	}
	if !b.allow() {
		t.Fatal("closed after a forbidden request, yet refusing")
	}
	if opened, _ := b.done(refused); !opened {
		t.Fatal("a refused connection did not open the breaker")
	}
	for _, step := range []struct {
		after time.Duration
		allow bool
	}{
		{4 * time.Second, false}, // open for 5 s
		{time.Second, true},      // the probe
	} {
		clk.SetTime(clk.Now().Add(step.after))
		if got := b.allow(); got != step.allow {
			t.Fatalf("allow() = %v after %v, want %v", got, step.after, step.allow)
		}
	}
	if b.allow() {
		t.Fatal("a second caller got through while the probe runs")
	}
	b.done(fmt.Errorf("patch: %w", context.DeadlineExceeded)) // the probe hung: 10 s now
	clk.SetTime(clk.Now().Add(9 * time.Second))
	if b.allow() {
		t.Fatal("backoff did not double after a failed probe")
	}
	clk.SetTime(clk.Now().Add(time.Second))
	if !b.allow() {
		t.Fatal("no probe after the doubled backoff")
	}
	b.release() // the probe had nothing to send: the next caller probes
	if !b.allow() {
		t.Fatal("a released probe blocked the next caller")
	}
	if _, closed := b.done(nil); !closed || !b.allow() || !b.allow() {
		t.Fatal("the breaker did not close after a successful probe")
	}
}

// TestSinkLeavesUnavailableApiserverAlone: once a request finds the
// apiserver away, the groups' syncs skip it (fast, no error: nothing for the
// worker to retry or surface) until the backoff ends; then the latest status
// goes out.
func TestSinkLeavesUnavailableApiserverAlone(t *testing.T) {
	r := newSinkRig(t, testUID)
	r.step(t, 0)
	r.tgs.fail = apierrors.NewServiceUnavailable("apiserver is shutting down")
	r.st.Phase = throttle.PhaseDegraded // a change that must be written
	if err := r.sink.Observe(context.Background(), r.st); err == nil {
		t.Fatal("the failed write was not reported")
	}
	patches := r.tgs.patches
	r.clock.SetTime(r.clock.Now().Add(time.Second))
	if err := r.sink.Observe(context.Background(), r.st); err != nil {
		t.Fatalf("Observe while the breaker is open: %v, want nil", err)
	}
	if r.tgs.patches != patches {
		t.Fatal("a request went to an apiserver known to be away")
	}
	r.clock.SetTime(r.clock.Now().Add(5 * time.Second))
	if err := r.sink.Observe(context.Background(), r.st); err != nil {
		t.Fatal(err)
	}
	if got := r.tgs.only(t).Status.Phase; got != v1alpha1.PhaseDegraded {
		t.Errorf("status after the apiserver came back: phase %s, want Degraded", got)
	}
}
