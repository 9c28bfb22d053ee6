package kube

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/csi-blkio/csi-blkio/internal/kube"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// steadyWindow is how long writes are counted at steady state (default two
// minutes, the production minimum interval twice; CSI_BLKIO_TEST_STEADY_WINDOW
// overrides it, e.g. 10m for a longer measurement).
func steadyWindow(t *testing.T) time.Duration {
	if s := os.Getenv("CSI_BLKIO_TEST_STEADY_WINDOW"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("CSI_BLKIO_TEST_STEADY_WINDOW: %v", err)
		}
		return d
	}
	return 2 * time.Minute
}

// TestApiserverWritesAtSteadyState measures the ThrottleGroup writes the
// real apiserver receives per group per minute once groups are settled,
// with the production coalescing and a stats interval ten times shorter
// than the default (so ten times more chances to write): a writer held at
// its limit, a writer that bursts to its limit and stops every few seconds
// (its rates move by more than the threshold all the time), and an idle
// volume. The writes are counted from a watch on the objects (every write
// bumps resourceVersion and is one watch event), beside the Events written.
func TestApiserverWritesAtSteadyState(t *testing.T) {
	c := needCluster(t)
	t.Parallel()
	window := steadyWindow(t)
	p := startPlugin(t, c)
	names := map[string]string{} // object name -> workload
	for _, w := range []string{"steady", "bursty", "idle"} {
		pv := p.publishedPod(t, c, "writes-"+w, "writes-"+w, map[string]string{"writeBytesPerSecond": "8Mi"})
		names[pv.tgName] = w
		ctr := p.containerCgroup(t, pv.pod, "ctr")
		data := filepath.Join(pv.target, "data")
		switch w {
		case "steady":
			writer(t, ctr, data)
		case "bursty":
			burster(t, ctr, data)
		}
	}
	for name := range names {
		c.waitTG(t, name, 15*statsInterval, "Active with rates", func(tg *v1alpha1.ThrottleGroup) bool {
			return tg.Status.Phase == v1alpha1.PhaseActive && tg.Status.Rates != nil
		})
	}
	// Past the start: first rates, Saturated, the settling writes.
	time.Sleep(30 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), window+time.Minute)
	defer cancel()
	list, err := c.tgs.List(ctx, teamNS, metav1.ListOptions{LabelSelector: kube.LabelNode + "=" + kube.NodeLabelValue(p.node)})
	if err != nil {
		t.Fatal(err)
	}
	events0 := c.eventWrites(t, p.node)
	w, err := c.tgs.Watch(ctx, teamNS, metav1.ListOptions{
		LabelSelector: kube.LabelNode + "=" + kube.NodeLabelValue(p.node), ResourceVersion: list.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	writes := map[string]int{}
	deadline := time.After(window)
count:
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch ended early")
			}
			if ev.Type == watch.Error {
				t.Fatalf("watch: %v", ev.Object)
			}
			if tg, ok := ev.Object.(*v1alpha1.ThrottleGroup); ok && names[tg.Name] != "" {
				writes[names[tg.Name]]++
			}
		case <-deadline:
			break count
		}
	}
	events := c.eventWrites(t, p.node) - events0
	minutes := window.Minutes()
	var report []string
	for _, wl := range []string{"steady", "bursty", "idle"} {
		perMin := float64(writes[wl]) / minutes
		report = append(report, fmt.Sprintf("%s %d (%.2f/min)", wl, writes[wl], perMin))
		// The minimum interval allows one write per minute for numbers;
		// nothing prominent happens at steady state. +1 for a window edge.
		if writes[wl] > int(minutes)+1 {
			t.Errorf("%s group: %d ThrottleGroup writes in %v, want at most one per minute", wl, writes[wl], window)
		}
	}
	t.Logf("apiserver writes per group at steady state over %v (stats interval %v, production coalescing): ThrottleGroup %s; Events %d in all (%.2f per group per minute)",
		window, statsInterval, strings.Join(report, ", "), events, float64(events)/3/minutes)
}

// burster writes at the limit for 3 s, pauses 3 s, and again, until the
// test ends.
func burster(t *testing.T, cgroup, path string) {
	t.Helper()
	script := fmt.Sprintf("while :; do timeout 3 dd if=/dev/zero of=%s bs=1M count=24 oflag=direct conv=notrunc 2>/dev/null; sleep 3; done", path)
	startLoop(t, cgroup, script)
}

// eventWrites sums the counts of the Events node's plugin recorded in the
// test namespace: every create or count bump is one write.
func (c *cluster) eventWrites(t *testing.T, node string) int {
	t.Helper()
	return c.eventWritesIn(t, teamNS, node)
}
