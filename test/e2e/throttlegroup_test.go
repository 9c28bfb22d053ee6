package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	blkiov1 "github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// groupWith waits until pod has one ThrottleGroup whose status satisfies
// ok, and returns it.
func (s *suite) groupWith(t *testing.T, pod *corev1.Pod, what string, ok func(*blkiov1.ThrottleGroup) bool) *blkiov1.ThrottleGroup {
	t.Helper()
	var found *blkiov1.ThrottleGroup
	poll(t, time.Minute, fmt.Sprintf("ThrottleGroup of pod %s with %s", pod.Name, what), func(c context.Context) (bool, error) {
		tgs, err := s.ThrottleGroupsOf(c, pod)
		if err != nil {
			return false, err
		}
		if len(tgs) != 1 {
			return false, fmt.Errorf("%d ThrottleGroups for the pod", len(tgs))
		}
		found = &tgs[0]
		return ok(found), fmt.Errorf("status %+v", found.Status)
	})
	return found
}

// checkUserView checks what users see of the pod's group while it exists.
// The ThrottleGroup has the device the pod saw, phase Active, rates, the
// container's kubelet-made cgroup among its cgroups, and the checks' limits
// as applied; `kubectl describe throttlegroup` shows the
// rates; the pod has a LimitsApplied Event; and the metrics (read from the
// table at scrape time, unlike the coalesced status) carry the limits and
// totals covering what the pod did (at least minRead and minWrite bytes).
func (s *suite) checkUserView(t *testing.T, pod *corev1.Pod, r podReport, minRead, minWrite float64, checks ...ioCheck) *blkiov1.ThrottleGroup {
	t.Helper()
	device := r.device
	tg := s.groupWith(t, pod, fmt.Sprintf("device %s, cgroup %s, phase Active and rates", device, r.cgroup), func(tg *blkiov1.ThrottleGroup) bool {
		st := tg.Status
		return st.Device == device && st.Phase == blkiov1.PhaseActive && st.Rates != nil && st.AppliedLimits != nil &&
			slices.Contains(st.Cgroups, r.cgroup)
	})
	for _, c := range checks {
		if got := appliedLimit(tg.Status.AppliedLimits, c.knob); got != int64(c.limit) {
			t.Errorf("ThrottleGroup %s status.appliedLimits for %s = %d, want %d", tg.Name, c.knob, got, int64(c.limit))
		}
	}
	out, err := s.kubectlCmd("describe", "throttlegroup", "-n", pod.Namespace, tg.Name)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"Rates:", "Write Bytes Per Second:", "Read Bytes Per Second:", "Totals:", "Phase:", pod.Name, device} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl describe throttlegroup %s lacks %q:\n%s", tg.Name, want, out)
		}
	}
	poll(t, time.Minute, "a LimitsApplied Event on pod "+pod.Name, func(c context.Context) (bool, error) {
		evs, err := s.podEvents(c, pod)
		for _, e := range evs {
			if e.Reason == "LimitsApplied" {
				return true, nil
			}
		}
		return false, err
	})
	poll(t, time.Minute, fmt.Sprintf("metrics of pod %s with its limits and >= %.0f read / %.0f written bytes", pod.Name, minRead, minWrite),
		func(c context.Context) (bool, error) {
			m, err := s.metrics(c)
			if err != nil {
				return false, err
			}
			uid := string(pod.UID)
			for _, c := range checks {
				if v, ok := sample(m, limitMetric[c.knob], uid); !ok || v != c.limit {
					return false, fmt.Errorf("%s = %v (present %v), want %v", limitMetric[c.knob], v, ok, c.limit)
				}
			}
			r, _ := sample(m, "csi_blkio_group_read_bytes_total", uid)
			w, _ := sample(m, "csi_blkio_group_write_bytes_total", uid)
			return r >= minRead && w >= minWrite, fmt.Errorf("totals: %.0f read, %.0f written", r, w)
		})
	return tg
}

// limitMetric names the metric of each kernel knob.
var limitMetric = map[string]string{
	writeBPS:  "csi_blkio_group_limit_write_bytes_per_second",
	readBPS:   "csi_blkio_group_limit_read_bytes_per_second",
	writeIOPS: "csi_blkio_group_limit_write_iops",
	readIOPS:  "csi_blkio_group_limit_read_iops",
}

func appliedLimit(l *blkiov1.Limits, knob string) int64 {
	q := func(v *resource.Quantity) int64 {
		if v == nil {
			return 0
		}
		return v.Value()
	}
	switch knob {
	case writeBPS:
		return q(l.WriteBytesPerSecond)
	case readBPS:
		return q(l.ReadBytesPerSecond)
	case writeIOPS:
		return l.WriteIOPS
	case readIOPS:
		return l.ReadIOPS
	}
	return -1
}

// sample finds the value of metric for the pod with uid in a Prometheus
// text exposition.
func sample(exposition, metric, uid string) (float64, bool) {
	for _, line := range strings.Split(exposition, "\n") {
		if !strings.HasPrefix(line, metric+"{") || !strings.Contains(line, `pod_uid="`+uid+`"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		return v, err == nil
	}
	return 0, false
}

// checkGroupGone checks, after pod was deleted, that its throttle group is
// gone from the plugin (no metric series for the pod) and its ThrottleGroup
// was garbage-collected with it (ownerReference to the Pod).
func (s *suite) checkGroupGone(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	poll(t, time.Minute, "no metric series of pod "+pod.Name, func(c context.Context) (bool, error) {
		m, err := s.metrics(c)
		return err == nil && !strings.Contains(m, `pod_uid="`+string(pod.UID)+`"`), err
	})
	poll(t, 2*time.Minute, "ThrottleGroup of pod "+pod.Name+" garbage-collected", func(c context.Context) (bool, error) {
		tgs, err := s.ThrottleGroupsOf(c, pod)
		return err == nil && len(tgs) == 0, err
	})
}

// metrics scrapes the plugin's Prometheus endpoint.
func (s *suite) metrics(c context.Context) (string, error) {
	req, err := http.NewRequestWithContext(c, http.MethodGet, "http://"+s.metricsAddr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return string(b), err
}
