//go:build e2ev2 && linux

package e2ev2

import (
	"fmt"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/test/nodetest"
)

// TestAfterReboot is the second boot of the same disk: etcd kept the pods,
// the state dir kept the volumes. The kubelet restages and republishes
// them (the loop devices may have new numbers), restarts the containers,
// and the limits must be back on the same slices and hold the IO again.
func TestAfterReboot(t *testing.T) {
	s := vm(t, "reboot")
	s.waitRegistered(t)
	for _, q := range nodetest.AllQOS() {
		t.Run(string(q), func(t *testing.T) {
			p := s.waitRunning(t, podScopeName(q), 10*time.Minute)
			slice := podSlice(q, p.UID)
			s.waitLimit(t, slice, volumeDevice(t, p, "data"), claimLimit)
			s.waitLimit(t, slice, volumeDevice(t, p, "inline"), inlineLimit)
			ma := s.waitMeasures(t, p.Name, "a", 5*time.Minute)
			mb := s.waitMeasures(t, p.Name, "b", 5*time.Minute)
			a, b := ma["claim"], mb["claim"]
			window := max(a.end, b.end) - min(a.start, b.start)
			checkThrottled(t, fmt.Sprintf("%s after reboot: two containers, one claim", q), 2*claimMiB*mi, claimLimit, window)
		})
	}
	t.Run("volume scope", func(t *testing.T) {
		p := s.waitRunning(t, volumeScopePod, 10*time.Minute)
		s.waitLimit(t, kubepodsSlice, volumeDevice(t, p, "data"), volumeLimit)
		m := s.waitMeasures(t, p.Name, "a", 5*time.Minute)["buffered"]
		checkThrottled(t, "volume scope after reboot: buffered write + fsync", claimMiB*mi, volumeLimit, m.end-m.start)
	})
}
