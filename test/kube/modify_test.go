package kube

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/kube"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// createPV creates the PersistentVolume external-provisioner would have
// made for volume id on node (the topology term names the node).
func (c *cluster) createPV(t *testing.T, id, node string) *corev1.PersistentVolume {
	t.Helper()
	name := testutil.Prefix + "-pv-" + id[len(id)-8:]
	pv, err := c.kc.CoreV1().PersistentVolumes().Create(context.Background(), &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: "blkio.csi.dev", VolumeHandle: id,
			}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: driver.TopologyKey, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// No controller manager runs here to take off the pv-protection
		// finalizer that admission adds: without this the PV stays
		// Terminating, and a second run (-count) cannot create it again.
		ctx := context.Background()
		_, _ = c.kc.CoreV1().PersistentVolumes().Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		_ = c.kc.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{})
	})
	return pv
}

// TestModifyAcrossNodes: two plugin processes are two nodes. A
// ControllerModifyVolume sent to A (where csi-resizer's leader would run)
// for B's volume lands in B's kernel files before it returns OK, and in the
// volume's ThrottleGroup (spec.limits and status.limitsSource). Bad
// parameters are refused by A at once. With B stopped the call answers
// Unavailable (csi-resizer retries) and the change waits on the PV; when B
// is back it applies it, and the retry succeeds.
func TestModifyAcrossNodes(t *testing.T) {
	c := needCluster(t)
	t.Parallel()
	a, b := startPlugin(t, c), startPlugin(t, c)
	published := b.publishedPod(t, c, "vac-writer", "vac", map[string]string{"writeBytesPerSecond": "8Mi"})
	podCg, v, tgName := published.podCgroup, published.vol, published.tgName
	pv := c.createPV(t, v.id, b.node)
	c.waitTG(t, tgName, 20*time.Second, "created by B", func(*v1alpha1.ThrottleGroup) bool { return true })

	wbps := func() string {
		return strings.TrimSpace(readFile(t, filepath.Join(podCg, "blkio.throttle.write_bps_device")))
	}
	modify := func(p *plugin, m map[string]string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := p.controllerClient().ControllerModifyVolume(ctx, &csi.ControllerModifyVolumeRequest{VolumeId: v.id, MutableParameters: m})
		return err
	}
	holds := func(bytes int64) bool { return strings.HasSuffix(wbps(), fmt.Sprintf(" %d", bytes)) }
	if !holds(8 << 20) {
		t.Fatalf("write_bps_device = %q before any change, want the StorageClass's 8Mi", wbps())
	}

	// A carries the change; OK means B's kernel holds it.
	var took []time.Duration
	for i, mib := range []int64{32, 16, 32, 16, 32} {
		start := time.Now()
		if err := modify(a, map[string]string{"writeBytesPerSecond": fmt.Sprintf("%dMi", mib)}); err != nil {
			t.Fatalf("change %d through A: %v", i, err)
		}
		took = append(took, time.Since(start))
		if !holds(mib << 20) {
			t.Fatalf("change %d answered OK but B's write_bps_device = %q, want %d", i, wbps(), mib<<20)
		}
	}
	slices.Sort(took)
	t.Logf("ControllerModifyVolume on A until B's kernel held the limit: p50 %v, max %v over %d changes", took[len(took)/2], took[len(took)-1], len(took))

	tg := c.waitTG(t, tgName, 20*time.Second, "spec and status follow the class", func(tg *v1alpha1.ThrottleGroup) bool {
		s := tg.Spec.Limits.WriteBytesPerSecond
		return s != nil && s.Value() == 32<<20 && tg.Status.LimitsSource == "VolumeAttributesClass" &&
			tg.Status.AppliedLimits != nil && tg.Status.AppliedLimits.WriteBytesPerSecond != nil && tg.Status.AppliedLimits.WriteBytesPerSecond.Value() == 32<<20
	})
	t.Logf("ThrottleGroup after the class change: spec.limits %+v, status.limitsSource %s", tg.Spec.Limits, tg.Status.LimitsSource)

	// Refused by A itself: nothing travels, nothing changes.
	if err := modify(a, map[string]string{"writeBytesPerSecond": "fast"}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), `parameter "writeBytesPerSecond"="fast"`) {
		t.Errorf("bad value through A: %v, want InvalidArgument naming the key and value", err)
	}
	if err := modify(a, map[string]string{"scope": "volume"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("immutable key through A: %v, want InvalidArgument", err)
	}
	if !holds(32 << 20) {
		t.Errorf("write_bps_device = %q after refused changes, want 32Mi still", wbps())
	}

	// B down: retriable, and the change waits on the PV.
	b.stop(t)
	err := modify(a, map[string]string{"writeBytesPerSecond": "4Mi"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("change with B stopped: %v, want Unavailable", err)
	}
	t.Logf("with B stopped: %v", err)
	got, gerr := c.kc.CoreV1().PersistentVolumes().Get(context.Background(), pv.Name, metav1.GetOptions{})
	if gerr != nil || !strings.Contains(got.Annotations[kube.AnnotationModifyRequest], `"writeBytesPerSecond":"4Mi"`) {
		t.Fatalf("PV annotations %v (%v), want the pending 4Mi request", got.Annotations, gerr)
	}
	if !holds(32 << 20) {
		t.Errorf("write_bps_device = %q while B is down, want 32Mi still", wbps())
	}

	// B back: it applies the waiting change on its own; the retry is OK.
	b.launch(t)
	testutil.Eventually(t, 30*time.Second, "B applies the change that waited", func() (bool, string) { return holds(4 << 20), wbps() })
	if err := modify(a, map[string]string{"writeBytesPerSecond": "4Mi"}); err != nil {
		t.Errorf("retry after B came back: %v", err)
	}

	// Every change above was the class's, and the plugin's own rewrites of
	// spec.limits carried them: none may read as a ThrottleGroup edit (a
	// LimitsChanged Event, an override that outlives the class change).
	// One real edit last: the recorder sends Events in order, so once its
	// Event is there, any earlier one is too.
	c.patchSpec(t, tgName, `{"spec":{"limits":{"writeBytesPerSecond":"2Mi"}}}`)
	testutil.Eventually(t, 30*time.Second, "the LimitsChanged Event of the edit to 2Mi", func() (bool, string) {
		changed := limitsChanged(t, c, tg.Namespace, tg.UID)
		return slices.ContainsFunc(changed, func(m string) bool { return strings.HasPrefix(m, "write 2Mi/s in force") }), strings.Join(changed, "; ")
	})
	if changed := limitsChanged(t, c, tg.Namespace, tg.UID); len(changed) != 1 {
		t.Errorf("LimitsChanged Events %q, want only the edit's: the class changes were taken for ThrottleGroup edits", changed)
	}
}

// limitsChanged lists the messages of the LimitsChanged Events on the
// object uid, one entry per time told.
func limitsChanged(t *testing.T, c *cluster, ns string, uid types.UID) []string {
	t.Helper()
	evs, err := c.kc.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(uid)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs.Items {
		if e.Reason != kube.ReasonLimitsChanged {
			continue
		}
		for range max(e.Count, 1) {
			out = append(out, e.Message)
		}
	}
	return out
}
