package kube

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/kube"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// TestThrottleGroupBurst: a volume with a burst, as its users see it on a
// real apiserver. A writer spends a 2 s bucket (8Mi baseline, 40Mi burst):
// the ThrottleGroup's status shows the bucket at the baseline, the printer
// column shows the balance, the pod gets BurstCreditSpent; /metrics has the
// balance; once the writer stops the bucket refills (64 MiB at 8 MiB/s) and
// the pod gets BurstCreditFull.
func TestThrottleGroupBurst(t *testing.T) {
	c := needCluster(t)
	t.Parallel()
	p := startPlugin(t, c)
	pv := p.publishedPod(t, c, "burster", "burst", map[string]string{
		"writeBytesPerSecond": "8Mi", "writeBytesPerSecondBurst": "40Mi", "burstSeconds": "2",
	})
	pod, v, target, name := pv.pod, pv.vol, pv.target, pv.tgName
	ctr := p.containerCgroup(t, pod, "ctr-writer")
	stop := writer(t, ctr, filepath.Join(target, "data"))

	c.waitEvents(t, pod.UID, kube.ReasonBurstCreditSpent)
	tg := c.waitTG(t, name, 10*statsInterval, "burst at the baseline", func(tg *v1alpha1.ThrottleGroup) bool {
		b := tg.Status.Burst
		return b != nil && len(b.Buckets) == 1 && b.Buckets[0].State == v1alpha1.BurstStateBaseline
	})
	b := tg.Status.Burst
	want := v1alpha1.BurstBucket{Limit: v1alpha1.LimitWriteBytesPerSecond, Baseline: limit8Mi, BurstRate: 40 << 20, State: v1alpha1.BurstStateBaseline}
	got := b.Buckets[0]
	got.BalancePercent, got.SecondsLeft = 0, 0
	// At the baseline the bucket holds less than its re-arm level: for a
	// 2 s bucket two ticks (250 ms) at the burst rate, a quarter of it.
	if got != want || b.BurstSeconds != 2 || b.BalancePercent > 25 {
		t.Errorf("status.burst = %+v, want %+v at most 25%% full", b, want)
	}
	if s := tg.Status.AppliedLimits.WriteBytesPerSecond.String(); s != "8Mi" {
		t.Errorf("status.appliedLimits.writeBytesPerSecond = %s at the baseline, want 8Mi", s)
	}
	if s := tg.Spec.Limits.WriteBytesPerSecond.String(); s != "8Mi" {
		t.Errorf("spec.limits.writeBytesPerSecond = %s, want the baseline 8Mi", s)
	}
	out, err := c.kubectl("", "get", "throttlegroups", "-n", teamNS, name)
	if err != nil {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	t.Logf("kubectl get throttlegroups:\n%s", out)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "BURST") {
		t.Errorf("kubectl get throttlegroups has no BURST column:\n%s", out)
	}
	labels := map[string]string{"volume_id": v.id, "pod_uid": string(pod.UID), "pod": pod.Name, "namespace": teamNS, "limit": "writeBytesPerSecond"}
	// The same bound as the status's: below the re-arm level, a quarter.
	if n, ok := sample(p.scrape(t), "csi_blkio_group_burst_balance_ratio", labels); !ok || n > 0.25 {
		t.Errorf("csi_blkio_group_burst_balance_ratio = %v (present %v), want a spent bucket", n, ok)
	}

	stop()
	refill := time.Now()
	c.waitEvents(t, pod.UID, kube.ReasonBurstCreditSpent, kube.ReasonBurstCreditFull)
	t.Logf("bucket full again %v after the writer stopped (model: 64 MiB at 8 MiB/s, 8 s)", time.Since(refill).Round(100*time.Millisecond))
	if n, _ := sample(p.scrape(t), "csi_blkio_group_burst_balance_ratio", labels); n < 0.99 {
		t.Errorf("csi_blkio_group_burst_balance_ratio = %v after the refill, want 1", n)
	}
}
