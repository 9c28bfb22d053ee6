package elastic

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

// BenchmarkStep is one control period over n groups on the real v1
// hierarchy and the real sysfs: n/2 pods of a protected volume and n/2 of
// an elastic one, each with a container cgroup. ns/op divided by n is the
// cost per group (the ns/group metric); it is paid once per period.
func BenchmarkStep(b *testing.B) {
	for _, n := range []int{2, 16, 64} {
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
			testutil.RequireBlkioV1(b)
			parent := testutil.NewCgroupParentV1(b)
			vLoop, aLoop := testutil.NewLoop(b, 64<<20), testutil.NewLoop(b, 64<<20)
			tb := throttletest.NewTable(b, throttle.Options{Backend: throttle.NewV1(testutil.BlkioV1, nil), KubeletCgroupRoot: parent})
			for i := range n {
				uid := testutil.PodUID(i + 1)
				testutil.MkdirCgroupV1(b, parent+"/kubepods/burstable/pod"+uid+"/ctr")
				s := throttle.Spec{Scope: throttle.ScopePod, Pod: throttle.PodRef{UID: uid}}
				vol := "victim"
				if i%2 == 0 {
					s.Device, s.LatencyTarget = throttle.Device{Major: vLoop.Major, Minor: vLoop.Minor}, time.Millisecond
				} else {
					vol = "aggressor"
					s.Device, s.Elastic = throttle.Device{Major: aLoop.Major, Minor: aLoop.Minor}, true
					s.Limits = throttle.Limits{WriteBytesPerSecond: 100 << 20}
				}
				if _, err := tb.Ensure(context.Background(), throttle.Key{VolumeID: vol, PodUID: uid}, s); err != nil {
					b.Fatal(err)
				}
			}
			c := New(tb, SysDisks{}, Options{})
			ctx := context.Background()
			c.Step(ctx) // members and disks found once, as in a running plugin
			b.ResetTimer()
			for range b.N {
				c.Step(ctx)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/group")
		})
	}
}
