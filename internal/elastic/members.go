package elastic

import (
	"context"
	"time"

	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// member is the controller's memory of one protected or elastic group.
type member struct {
	inc     uint64
	device  throttle.Device
	disk    throttle.Device
	diskErr error
	since   time.Time

	protected bool
	target    time.Duration
	elastic   bool

	// Protected: the IO count and the device's counters at the last
	// sample, and the mean time of its IOs over the last period.
	prevIOs  uint64
	prevDev  DiskStat
	havePrev bool
	latency  time.Duration

	// Elastic: what the kernel holds (applied: known), and its record.
	applied  bool
	held     bool
	lift     throttle.Limits
	heldTime time.Duration
	lastStep time.Time
	holds    uint64
}

// refresh brings the members in line with the table: new groups join
// (their disk is looked up once per incarnation and device), removed ones
// leave, and a group that stopped being elastic gets its spec limits back.
func (c *Controller) refresh(ctx context.Context, now time.Time) {
	logger := klog.FromContext(ctx)
	seen := map[throttle.Key]bool{}
	for _, key := range c.groups.Keys() {
		st, ok := c.groups.Get(key)
		if !ok {
			continue
		}
		spec := st.Spec
		if spec.LatencyTarget == 0 && !spec.Elastic {
			if st.Lifted {
				if err := c.groups.SetLift(key, nil); err != nil {
					logger.Error(err, "Holding a group that is no longer elastic", "group", key)
				}
			}
			continue
		}
		seen[key] = true
		m := c.members[key]
		if m == nil || m.inc != st.Incarnation || m.device != spec.Device {
			// A new incarnation starts with its spec limits in the
			// kernel (Ensure put them there), unless something lifted it.
			m = &member{inc: st.Incarnation, device: spec.Device, since: now, applied: true, held: !st.Lifted, lift: st.Lift}
			m.disk, m.diskErr = c.disks.DiskOf(spec.Device)
			if m.diskErr != nil {
				logger.Info("No disk latency to watch for a group; its limits stay held", "group", key, "device", spec.Device, "err", m.diskErr)
			} else {
				logger.V(2).Info("Group joins the elastic controller", "group", key, "disk", m.disk,
					"latencyTarget", spec.LatencyTarget, "elastic", spec.Elastic)
			}
			c.members[key] = m
		}
		m.protected, m.target, m.elastic = spec.LatencyTarget > 0, spec.LatencyTarget, spec.Elastic
		if !m.elastic && st.Lifted {
			if err := c.groups.SetLift(key, nil); err != nil {
				logger.Error(err, "Holding a group that is no longer elastic", "group", key)
			}
		}
		if m.diskErr == nil && c.domains[m.disk] == nil {
			c.domains[m.disk] = newDomain(m.disk, now)
		}
	}
	used := map[throttle.Device]bool{}
	for key, m := range c.members {
		if !seen[key] {
			delete(c.members, key)
			continue
		}
		if m.diskErr == nil {
			used[m.disk] = true
		}
	}
	for disk := range c.domains {
		if !used[disk] {
			delete(c.domains, disk)
		}
	}
}
