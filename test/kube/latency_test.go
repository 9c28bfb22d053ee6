package kube

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/csi-blkio/csi-blkio/internal/kube"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/pkg/apis/blkio/v1alpha1"
)

// publishesPerMode is how many NodePublishVolume calls each apiserver state
// gets; each is for a new pod, so each new group sends the stats worker's
// sink to the apiserver (pod GET, ThrottleGroup create, status patch).
const publishesPerMode = 5

// TestPublishWithoutApiserver: the apiserver is never on the publish path
// (docs/architecture.md, invariant 2). The plugin talks to the apiserver through a proxy
// that is healthy, then stopped (connection refused), then hung (accepts,
// never answers); NodePublishVolume completes in each state, and its
// latency is reported beside the healthy case; the plugin says on /metrics
// that it leaves the apiserver alone, and its stats worker keeps sampling
// every group. Back to healthy, the groups published during the outages get
// their ThrottleGroups.
func TestPublishWithoutApiserver(t *testing.T) {
	c := needCluster(t)
	t.Parallel()
	p := startPlugin(t, c)
	type published struct {
		pod *corev1.Pod
		key throttle.Key
	}
	var outage []published
	var report []string
	total := 0
	for _, mode := range []proxyMode{healthy, stopped, hung} {
		p.proxy.set(t, mode)
		var lat []time.Duration
		for i := range publishesPerMode {
			// The pod is created as the admin, not through the proxy.
			name := fmt.Sprintf("latency-%s-%d", mode, i)
			pv := p.publishedPod(t, c, name, name, map[string]string{"writeBytesPerSecond": "8Mi"})
			d := pv.latency
			lat = append(lat, d)
			total++
			// The plugin's requests give up after its 10 s request timeout: a
			// publish that waited on the apiserver would take at least that.
			if d >= 5*time.Second {
				t.Errorf("%s apiserver: NodePublishVolume took %v: something on the publish path waits for the apiserver", mode, d)
			}
			if mode != healthy {
				outage = append(outage, published{pv.pod, pv.key})
			}
			time.Sleep(statsInterval) // let the worker's sink reach for the apiserver between publishes
		}
		// The plugin did reach for the apiserver meanwhile and found it
		// away (refused; or held until the request timeout when hung), and
		// says so on /metrics.
		paused := map[proxyMode]float64{healthy: 0, stopped: 1, hung: 1}[mode]
		testutil.Eventually(t, 30*time.Second, fmt.Sprintf("csi_blkio_apiserver_paused %v", paused), func() (bool, string) {
			v, ok := sample(p.scrape(t), "csi_blkio_apiserver_paused", nil)
			return ok && v == paused, fmt.Sprint(v)
		})
		if mode == hung {
			testutil.Eventually(t, 30*time.Second, "a request held until the plugin's timeout", func() (bool, string) {
				return strings.Contains(p.log.String(), "Client.Timeout exceeded"), ""
			})
		}
		// And the stats worker keeps up meanwhile: every group got its first
		// sample (Pending -> Active) although the apiserver is away.
		testutil.Eventually(t, 5*statsInterval, "every group sampled with the apiserver "+mode.String(), func() (bool, string) {
			mfs := p.scrape(t)
			pending, _ := sample(mfs, "csi_blkio_groups", map[string]string{"phase": "Pending"})
			active, _ := sample(mfs, "csi_blkio_groups", map[string]string{"phase": "Active"})
			return pending == 0 && active == float64(total), fmt.Sprintf("pending %v, active %v of %d", pending, active, total)
		})
		slices.Sort(lat)
		report = append(report, fmt.Sprintf("%s: p50 %v, max %v", mode, lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond)))
		// Healthy again before the next state, so that each outage starts
		// from a plugin that talks to the apiserver.
		p.proxy.set(t, healthy)
		testutil.Eventually(t, time.Minute, "csi_blkio_apiserver_paused 0 with the apiserver back", func() (bool, string) {
			v, _ := sample(p.scrape(t), "csi_blkio_apiserver_paused", nil)
			return v == 0, fmt.Sprint(v)
		})
	}
	t.Logf("NodePublishVolume latency with the apiserver %s (%d publishes each)", strings.Join(report, "; "), publishesPerMode)

	for _, g := range outage {
		c.waitTG(t, kube.ObjectName(g.pod.Name, g.key), time.Minute, "Active after the apiserver came back", func(tg *v1alpha1.ThrottleGroup) bool {
			return tg.Status.Phase == v1alpha1.PhaseActive
		})
	}
}
