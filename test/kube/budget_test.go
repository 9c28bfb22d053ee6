package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/csi-blkio/csi-blkio/internal/kube"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// TestWriteBudgetWith500BurstyGroups: one node's Kubernetes sink, in this
// process, acting as the chart's ServiceAccount against the real apiserver,
// with 500 groups whose rates jump between 0 and their limit at every 10 s
// sample, on the production write budget, over 10 minutes of its clock (a
// fake clock: the budget and the coalescing run on it, the apiserver in
// real time). The ThrottleGroup writes are counted from a watch and the
// Events from the apiserver: all of them fit in burst + rate x time. Then
// the bucket is drained and one group's phase changes: the watch sees the
// status change within seconds of the sink's clock (the stats worker's
// requeue is played by the test).
func TestWriteBudgetWith500BurstyGroups(t *testing.T) {
	c := needCluster(t)
	t.Parallel()
	const groups, interval, run = 500, 10 * time.Second, 10 * time.Minute
	b := make([]byte, 3)
	rand.Read(b)
	node := testutil.Prefix + "-budget-" + hex.EncodeToString(b)
	ctx := context.Background()

	// The pods, created as an admin with a client that is not rate-limited.
	adm := rest.CopyConfig(c.admin)
	adm.QPS, adm.Burst = 500, 1000
	akc, err := kubernetes.NewForConfig(adm)
	if err != nil {
		t.Fatal(err)
	}
	sts := make([]throttle.GroupStatus, groups)
	var wg sync.WaitGroup
	errs := make(chan error, groups)
	// At most 16 creates in flight, the first one alone: 500 at once on a
	// fresh client each dial and shake hands with the apiserver before
	// the first connection exists, and on a loaded machine some of those
	// handshakes outlast client-go's 10 s TLS timeout.
	inFlight := make(chan struct{}, 16)
	for i := range groups {
		inFlight <- struct{}{}
		if i == 1 {
			wg.Wait()
		}
		wg.Go(func() {
			defer func() { <-inFlight }()
			pod, err := akc.CoreV1().Pods(teamNS).Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%03d", node, i)},
				Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "w", Image: "busybox"}}},
			}, metav1.CreateOptions{})
			if err != nil {
				errs <- err
				return
			}
			sts[i] = throttle.GroupStatus{
				Key: throttle.Key{VolumeID: fmt.Sprintf("blkio-budget-%03d", i), PodUID: string(pod.UID)},
				Spec: throttle.Spec{Device: throttle.Device{Major: 7, Minor: uint32(1000 + i)}, Limits: throttle.Limits{WriteBytesPerSecond: limit8Mi},
					Scope: throttle.ScopePod, Pod: throttle.PodRef{UID: string(pod.UID), Name: pod.Name, Namespace: teamNS}},
				Phase: throttle.PhaseActive, Incarnation: 1, BackendVersion: 1, Semantics: "per container",
				Cgroups: []string{"/kubepods/burstable/pod" + string(pod.UID)}, Placement: "on pod cgroup",
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := range groups {
			akc.CoreV1().Pods(teamNS).Delete(context.Background(), sts[i].Spec.Pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))})
			c.tgs.Delete(context.Background(), teamNS, kube.ObjectName(sts[i].Spec.Pod.Name, sts[i].Key))
		}
	})

	// Count every ThrottleGroup write of this node from a watch.
	selector := kube.LabelNode + "=" + kube.NodeLabelValue(node)
	list, err := c.tgs.List(ctx, teamNS, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.tgs.Watch(ctx, teamNS, metav1.ListOptions{LabelSelector: selector, ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var tgWrites atomic.Int64
	phases := make(chan string, 1000)
	go func() {
		for ev := range w.ResultChan() {
			if tg, ok := ev.Object.(*v1alpha1.ThrottleGroup); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
				tgWrites.Add(1)
				phases <- tg.Name + " " + string(tg.Status.Phase)
			}
		}
	}()

	// The sink as the plugin builds it, on the chart's ServiceAccount.
	sa := c.saConfig(t, c.apiserver)
	sa.QPS, sa.Burst = 500, 1000
	skc, err := kube.NewCore(sa) // the core client the plugin uses, not a clientset
	if err != nil {
		t.Fatal(err)
	}
	stgs, err := kube.NewThrottleGroups(sa)
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Now())
	budget := kube.NewWriteBudget(kube.BudgetOptions{Clock: clk})
	rec, stopRec, err := kube.NewRecorder(ctx, skc, node)
	if err != nil {
		t.Fatal(err)
	}
	var requeued atomic.Int64 // nanoseconds of the last requeue asked for
	sink, err := kube.NewSink(kube.SinkOptions{
		Node: node, Kube: skc, ThrottleGroups: stgs, Recorder: kube.BudgetRecorder(rec, budget), Hierarchy: "/",
		Specs: kube.NewSpecStates(), Clock: clk, Budget: budget,
		Requeue: func(_ throttle.Key, d time.Duration) { requeued.Store(int64(d)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	totals := make([]uint64, groups)
	for sweep := 0; clk.Since(start) < run; sweep++ {
		clk.Step(interval)
		for i := range sts {
			rate := 0.0
			if (sweep+i)%2 == 0 {
				rate = limit8Mi
			}
			totals[i] += uint64(rate * interval.Seconds())
			sts[i].Stats = throttle.Stats{SampledAt: clk.Now(), WriteBytes: totals[i], WriteBytesPerSecond: rate}
			if err := sink.Observe(ctx, sts[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	elapsed := clk.Since(start)
	stopRec() // flushes the Events
	time.Sleep(2 * time.Second)
	events := c.eventWritesIn(t, teamNS, node)
	writes := int(tgWrites.Load()) + events
	allowed := kube.DefaultBudgetBurst + int(kube.DefaultBudgetPerSecond*elapsed.Seconds())
	t.Logf("%d bursty groups over %v of the sink's clock: %d ThrottleGroup writes (watch) + %d Events = %d (%.3f/s), budget %d (%.2f/s, burst %d)",
		groups, elapsed, tgWrites.Load(), events, writes, float64(writes)/elapsed.Seconds(), allowed, kube.DefaultBudgetPerSecond, kube.DefaultBudgetBurst)
	if writes > allowed {
		t.Errorf("%d writes in %v, over the budget's %d", writes, elapsed, allowed)
	}
	if tgWrites.Load() == 0 {
		t.Fatal("the watch saw no write")
	}

	// A phase change of a group that has its object, with the bucket empty.
	var g int
	for g = range sts {
		if tg, err := c.tgs.Get(ctx, teamNS, kube.ObjectName(sts[g].Spec.Pod.Name, sts[g].Key)); err == nil && tg.Status.Phase == v1alpha1.PhaseActive {
			break
		}
	}
	for {
		if ok, _ := budget.Take("drain", kube.PriorityChange); !ok {
			break
		}
	}
	name := kube.ObjectName(sts[g].Spec.Pod.Name, sts[g].Key)
	sts[g].Phase = throttle.PhaseDegraded
	changed := clk.Now()
	realStart := time.Now()
	for len(phases) > 0 {
		<-phases
	}
	seen := false
	for range 10 {
		requeued.Store(0)
		if err := sink.Observe(ctx, sts[g]); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-phases:
			seen = p == name+" Degraded"
		case <-time.After(time.Second):
		}
		if seen {
			break
		}
		d := requeued.Load()
		if d == 0 {
			t.Fatal("a deferred phase change asked for no requeue")
		}
		clk.Step(time.Duration(d))
	}
	t.Logf("the phase change reached the status %v (sink's clock) / %v (real) after it happened", clk.Since(changed), time.Since(realStart).Round(time.Millisecond))
	if !seen || clk.Since(changed) > 10*time.Second {
		t.Errorf("phase change seen %v after %v; want Degraded in the watch within 10 s", seen, clk.Since(changed))
	}
}

// eventWritesIn sums the counts of the Events node recorded in ns.
func (c *cluster) eventWritesIn(t *testing.T, ns, node string) int {
	t.Helper()
	evs, err := c.kc.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs.Items {
		if e.Source.Host == node {
			n += max(int(e.Count), 1)
		}
	}
	return n
}
