package kube

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/csi-blkio/csi-blkio/internal/kube"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// TestForgedThrottleGroupIsIgnored: a tenant who may create ThrottleGroups
// in its own namespace copies a victim pod's ThrottleGroup there — same
// name, the node's label, the victim pod as controller — with a limit 128
// times higher. The plugin ignores it: the victim's kernel limits (pod and
// container cgroups) and its ThrottleGroup stay at 8Mi over several
// resyncs, and the copy gets a ThrottleGroupIgnored Warning saying why.
func TestForgedThrottleGroupIsIgnored(t *testing.T) {
	c := needCluster(t)
	t.Parallel()
	p := startPlugin(t, c)
	pv := p.publishedPod(t, c, "victim", "victim", map[string]string{"writeBytesPerSecond": "8Mi"})
	victim, pod, name := pv.pod, pv.podCgroup, pv.tgName
	ctr := p.containerCgroup(t, victim, "ctr")
	tg := c.waitTG(t, name, 10*statsInterval, "Active", func(tg *v1alpha1.ThrottleGroup) bool {
		return tg.Status.Phase == v1alpha1.PhaseActive
	})

	ctx := context.Background()
	mallory := testutil.Prefix + "-mallory"
	if _, err := c.kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mallory}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	fast := resource.MustParse("1Gi")
	forged := &v1alpha1.ThrottleGroup{
		ObjectMeta: metav1.ObjectMeta{Name: tg.Name, Namespace: mallory, Labels: tg.Labels, OwnerReferences: tg.OwnerReferences},
		Spec:       *tg.Spec.DeepCopy(),
	}
	forged.Spec.Limits = v1alpha1.Limits{WriteBytesPerSecond: &fast}
	forged, err := c.tgs.Create(ctx, forged)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.tgs.Delete(context.Background(), mallory, forged.Name) })

	reason := waitEventOn(t, c, mallory, forged.UID, kube.ReasonThrottleGroupIgnored)
	for _, frag := range []string{"Warning", "in namespace " + mallory, "runs in namespace " + teamNS, "change nothing"} {
		if !strings.Contains(reason, frag) {
			t.Errorf("Event %q lacks %q", reason, frag)
		}
	}
	// Several resyncs later (each re-examines every object), nothing moved.
	time.Sleep(5 * statsInterval)
	want := fmt.Sprintf("%s %d", tg.Status.Device, limit8Mi)
	for _, dir := range []string{pod, ctr} {
		if got := readFile(t, filepath.Join(dir, "blkio.throttle.write_bps_device")); !strings.Contains(got, want) {
			t.Errorf("%s holds %q after the forged edit, want %q", dir, got, want)
		}
	}
	got, err := c.tgs.Get(ctx, teamNS, name)
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Status.AppliedLimits.WriteBytesPerSecond.String(); a != "8Mi" {
		t.Errorf("the victim's appliedLimits moved to %s", a)
	}
	if n := countEvents(t, c, mallory, forged.UID, kube.ReasonThrottleGroupIgnored); n != 1 {
		t.Errorf("%d ThrottleGroupIgnored Events after several resyncs, want 1 (told once per generation)", n)
	}
}

// waitEventOn waits for an Event with reason on the object uid in ns and
// returns it as "Type Reason: message".
func waitEventOn(t *testing.T, c *cluster, ns string, uid types.UID, reason string) string {
	t.Helper()
	var got string
	testutil.Eventually(t, 30*time.Second, reason+" Event on "+string(uid), func() (bool, string) {
		evs, err := c.kc.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(uid)})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range evs.Items {
			s := fmt.Sprintf("%s %s: %s", e.Type, e.Reason, e.Message)
			if e.Reason == reason {
				got = s
				return true, ""
			}
			seen = append(seen, s)
		}
		return false, strings.Join(seen, "; ")
	})
	return got
}

// countEvents sums the counts of the Events with reason on uid in ns.
func countEvents(t *testing.T, c *cluster, ns string, uid types.UID, reason string) int {
	t.Helper()
	evs, err := c.kc.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(uid)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs.Items {
		if e.Reason == reason {
			n += int(e.Count)
		}
	}
	return n
}
