package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

// volumeAttributesClass creates a class of csi-blkio with params; cleanup
// deletes it.
func (s *suite) volumeAttributesClass(t *testing.T, className string, params map[string]string) string {
	t.Helper()
	vac := &storagev1.VolumeAttributesClass{ObjectMeta: metav1.ObjectMeta{Name: className}, DriverName: nodetest.DriverName, Parameters: params}
	if _, err := s.CS.StorageV1().VolumeAttributesClasses().Create(nodetest.Context(t, time.Minute), vac, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.CS.StorageV1().VolumeAttributesClasses().Delete(context.Background(), className, metav1.DeleteOptions{})
	})
	return className
}

// patchClaim merge-patches the claim's spec, as `kubectl patch pvc` does.
func (s *suite) patchClaim(t *testing.T, ns, claim, spec string) {
	t.Helper()
	if _, err := s.CS.CoreV1().PersistentVolumeClaims(ns).Patch(nodetest.Context(t, time.Minute), claim, types.MergePatchType,
		[]byte(`{"spec":`+spec+`}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch claim %s with %s: %v", claim, spec, err)
	}
}

// vacPod idles with the claim at /data; the test writes with exec, in the
// container's cgroups.
func (s *suite) vacPod(t *testing.T, ns, podName, claim string) (*corev1.Pod, string) {
	t.Helper()
	pod := s.createPod(t, shPod(ns, podName, s.busyboxImage, nodetest.Burstable,
		prologue+"echo e2e ready\ntrap 'exit 0' TERM\nsleep 3600 & wait\n", map[string]corev1.VolumeSource{"/data": claimSource(claim)}))
	r := parseReport(t, s.waitLog(t, pod, "e2e ready", 3*time.Minute))
	return pod, r.device
}

// writeRate writes mib MiB with direct IO from inside pod and returns the
// achieved bytes per second.
func (s *suite) writeRate(t *testing.T, pod *corev1.Pod, mib int) float64 {
	t.Helper()
	out, err := s.exec(nodetest.Context(t, 2*time.Minute), pod, "/bin/sh", "-c",
		fmt.Sprintf("read a _ </proc/uptime; dd if=/dev/zero of=/data/rate bs=1M count=%d oflag=direct 2>/dev/null; read b _ </proc/uptime; echo $a $b", mib))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("rate script printed %q", out)
	}
	a, _ := strconv.ParseFloat(f[0], 64)
	b, _ := strconv.ParseFloat(f[1], 64)
	return float64(mib) * mi / (b - a)
}

// TestVolumeAttributesClass runs the whole story on the real node with
// csi-resizer from the chart: a claim of class slow is patched to fast and
// the kernel entries and the measured rate follow, and the claim's
// currentVolumeAttributesClassName says fast; a class with a bad value is
// Infeasible and the limits stay; a new pod on the claim and a restarted
// plugin keep the class's limits; the mounted xfs volume grows and df in
// the pod shows it. It records the time from each claim patch to the new
// limit in the kernel.
func TestVolumeAttributesClass(t *testing.T) {
	s := node(t)
	ns := s.namespace(t)
	base := name(t)
	slow := s.volumeAttributesClass(t, base+"-slow", map[string]string{"writeBytesPerSecond": "4Mi"})
	fast := s.volumeAttributesClass(t, base+"-fast", map[string]string{"writeBytesPerSecond": "16Mi", "writeIOPS": "max"})
	bad := s.volumeAttributesClass(t, base+"-bad", map[string]string{"writeBytesPerSecond": "lots"})

	expand := true
	sc := nodetest.StorageClass(base, map[string]string{"writeBytesPerSecond": "8Mi", "writeIOPS": "1000", "csi.storage.k8s.io/fstype": "xfs"})
	sc.AllowVolumeExpansion = &expand
	s.CreateStorageClass(t, sc)
	t.Cleanup(func() {
		_ = s.CS.StorageV1().StorageClasses().Delete(context.Background(), sc.Name, metav1.DeleteOptions{})
	})
	pvc := nodetest.Claim(ns, "data", sc.Name, "400Mi")
	pvc.Spec.VolumeAttributesClassName = &slow
	s.CreateClaim(t, pvc)
	pod, dev := s.vacPod(t, ns, "writer", "data")
	s.boundVolume(t, ns, "data")
	podCg := cgroupParent(nodetest.Burstable, pod.UID)
	kernel := func() int64 { return kernelLimit(t, podCg, writeBPS, dev) }
	claimStatus := func(c context.Context) (*corev1.PersistentVolumeClaim, error) {
		return s.CS.CoreV1().PersistentVolumeClaims(ns).Get(c, "data", metav1.GetOptions{})
	}
	waitCurrent := func(class string) {
		poll(t, 2*time.Minute, "claim's currentVolumeAttributesClassName "+class, func(c context.Context) (bool, error) {
			p, err := claimStatus(c)
			if err != nil {
				return false, err
			}
			cur := p.Status.CurrentVolumeAttributesClassName
			return cur != nil && *cur == class, fmt.Errorf("current %v, modify status %+v", cur, p.Status.ModifyVolumeStatus)
		})
	}

	// Created with slow: the class's limit over the StorageClass's.
	waitCurrent(slow)
	if got := kernel(); got != 4*mi {
		t.Fatalf("write_bps_device = %d for a claim created with class slow, want %d", got, 4*mi)
	}
	s.checkRate(t, "class slow (4Mi) write", 8*mi, 8*mi/s.writeRate(t, pod, 8), 4*mi, "B/s")

	// Ten changes, slow and fast in turn: the time from the patch to the
	// new limit in the kernel.
	var took []time.Duration
	for i := range 10 {
		class, want := fast, int64(16*mi)
		if i%2 == 1 {
			class, want = slow, 4*mi
		}
		start := time.Now()
		s.patchClaim(t, ns, "data", `{"volumeAttributesClassName":"`+class+`"}`)
		for kernel() != want {
			if time.Since(start) > 2*time.Minute {
				t.Fatalf("change %d to %s: write_bps_device = %d after 2 minutes, want %d", i, class, kernel(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
		took = append(took, time.Since(start))
		waitCurrent(class)
	}
	slices.Sort(took)
	line := fmt.Sprintf("VolumeAttributesClass change, PVC patch to limit in the kernel: p50 %.0f ms, max %.0f ms over %d changes",
		float64(took[len(took)/2].Microseconds())/1000, float64(took[len(took)-1].Microseconds())/1000, len(took))
	s.record(line)
	t.Log(line)

	s.patchClaim(t, ns, "data", `{"volumeAttributesClassName":"`+fast+`"}`)
	waitCurrent(fast)
	if got := kernel(); got != 16*mi {
		t.Fatalf("write_bps_device = %d with class fast, want %d", got, 16*mi)
	}
	s.checkRate(t, "class fast (16Mi) write", 32*mi, 32*mi/s.writeRate(t, pod, 32), 16*mi, "B/s")

	// A bad class: Infeasible, and the limits stay.
	s.patchClaim(t, ns, "data", `{"volumeAttributesClassName":"`+bad+`"}`)
	poll(t, 2*time.Minute, "class with a bad value Infeasible", func(c context.Context) (bool, error) {
		p, err := claimStatus(c)
		if err != nil {
			return false, err
		}
		m := p.Status.ModifyVolumeStatus
		return m != nil && m.Status == corev1.PersistentVolumeClaimModifyVolumeInfeasible, fmt.Errorf("modify status %+v", m)
	})
	if got := kernel(); got != 16*mi {
		t.Errorf("write_bps_device = %d after an Infeasible class, want fast's %d still", got, 16*mi)
	}
	s.patchClaim(t, ns, "data", `{"volumeAttributesClassName":"`+fast+`"}`)
	waitCurrent(fast)

	// A new pod on the claim keeps fast's limits.
	s.deletePod(t, pod)
	pod, dev = s.vacPod(t, ns, "writer-2", "data")
	podCg = cgroupParent(nodetest.Burstable, pod.UID)
	if got := kernel(); got != 16*mi {
		t.Errorf("write_bps_device = %d for a new pod on the claim, want fast's %d", got, 16*mi)
	}

	// A restarted plugin keeps them.
	s.WaitNewPluginPod(t, s.DeletePluginPod(t), 2*time.Minute)
	if err := s.WaitDriverRegistered(s.nodeName, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := kernel(); got != 16*mi {
		t.Errorf("write_bps_device = %d after the plugin restarted, want fast's %d", got, 16*mi)
	}
	s.checkRate(t, "class fast after plugin restart", 32*mi, 32*mi/s.writeRate(t, pod, 32), 16*mi, "B/s")

	// Expansion of the mounted xfs volume: df in the pod shows it.
	dfKiB := func(c context.Context) (int64, error) {
		out, err := s.exec(c, pod, "df", "-k", "/data")
		if err != nil {
			return 0, err
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		f := strings.Fields(lines[len(lines)-1])
		if len(f) < 2 {
			return 0, fmt.Errorf("df printed %q", out)
		}
		return strconv.ParseInt(f[1], 10, 64)
	}
	before, err := dfKiB(nodetest.Context(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	s.patchClaim(t, ns, "data", `{"resources":{"requests":{"storage":"800Mi"}}}`)
	var after int64
	poll(t, 3*time.Minute, "df in the pod shows the grown filesystem", func(c context.Context) (bool, error) {
		after, err = dfKiB(c)
		return err == nil && after > 700*1024, err
	})
	t.Logf("df /data in the pod: %d KiB before, %d KiB after the claim grew from 400Mi to 800Mi", before, after)
	poll(t, 2*time.Minute, "claim status capacity 800Mi", func(c context.Context) (bool, error) {
		p, err := claimStatus(c)
		if err != nil {
			return false, err
		}
		q := p.Status.Capacity[corev1.ResourceStorage]
		return q.Cmp(resource.MustParse("800Mi")) >= 0, fmt.Errorf("capacity %s, conditions %+v", q.String(), p.Status.Conditions)
	})
}
