package elastic

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

var (
	disk     = throttle.Device{Major: 254, Minor: 0}
	victimK  = throttle.Key{VolumeID: "victim"}
	aggrK    = throttle.Key{VolumeID: "aggressor"}
	victimD  = throttle.Device{Major: 7, Minor: 1}
	aggrD    = throttle.Device{Major: 7, Minor: 2}
	held100M = throttle.Limits{WriteBytesPerSecond: 100 << 20}
)

// fakeGroups is a table of groups whose counters the test moves and
// whose limits the controller lifts and holds.
type fakeGroups struct {
	*throttletest.Groups
	mu       sync.Mutex // guards what follows; Groups has its own lock
	added    uint64
	counters map[throttle.Key]throttle.Counters
	lifts    []string // "key:held" or "key:<limits>"
}

func newFakeGroups() *fakeGroups {
	return &fakeGroups{Groups: throttletest.NewGroups(), counters: map[throttle.Key]throttle.Counters{}}
}

// add places a group, each with an incarnation of its own.
func (f *fakeGroups) add(k throttle.Key, s throttle.Spec) {
	f.mu.Lock()
	f.added++
	inc := f.added
	f.mu.Unlock()
	f.Set(throttle.GroupStatus{Key: k, Spec: s, Incarnation: inc})
}

func (f *fakeGroups) io(k throttle.Key, n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.counters[k]
	c.ReadIOs += n
	f.counters[k] = c
}

func (f *fakeGroups) ReadCounters(k throttle.Key) (throttle.Counters, uint64, error) {
	s, ok := f.Get(k)
	if !ok {
		return throttle.Counters{}, 0, throttle.ErrGroupNotFound
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counters[k], s.Incarnation, nil
}

func (f *fakeGroups) SetLift(k throttle.Key, l *throttle.Limits) error {
	found := f.Update(k, func(s *throttle.GroupStatus) {
		s.Lifted, s.Lift = l != nil, throttle.Limits{}
		if l != nil {
			s.Lift = *l
		}
	})
	if !found {
		return throttle.ErrGroupNotFound
	}
	lift := k.VolumeID + ":held"
	if l != nil {
		lift = k.VolumeID + ":" + l.String()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lifts = append(f.lifts, lift)
	return nil
}

func (f *fakeGroups) kernel(k throttle.Key) (throttle.Limits, bool) {
	s, _ := f.Get(k)
	return s.KernelLimits(), s.Lifted
}

// fakeDisks serves one disk and the volumes' devices, whose latencies
// the test sets per period.
type fakeDisks struct {
	stat   map[throttle.Device]DiskStat
	noDisk map[throttle.Device]bool
}

func (f *fakeDisks) DiskOf(d throttle.Device) (throttle.Device, error) {
	if f.noDisk[d] {
		return throttle.Device{}, ErrNoDisk
	}
	return disk, nil
}
func (f *fakeDisks) Stat(d throttle.Device) (DiskStat, error) { return f.stat[d], nil }

// complete has the device complete n IOs of lat each.
func (f *fakeDisks) complete(d throttle.Device, n uint64, lat time.Duration) {
	s := f.stat[d]
	s.IOs += n
	s.Busy += time.Duration(n) * lat
	f.stat[d] = s
}

type recorder struct{ reactions []time.Duration }

func (r *recorder) Held(_ throttle.Device, d time.Duration) { r.reactions = append(r.reactions, d) }

type rig struct {
	g   *fakeGroups
	d   *fakeDisks
	c   *Controller
	now time.Time
	obs *recorder
	// notified are the keys whose held/lifted state changed, in order.
	notified []throttle.Key
}

func newRig(t *testing.T, lifter Lifter) *rig {
	r := &rig{g: newFakeGroups(), d: &fakeDisks{stat: map[throttle.Device]DiskStat{}, noDisk: map[throttle.Device]bool{}}, now: time.Unix(1000, 0), obs: &recorder{}}
	r.g.add(victimK, throttle.Spec{Device: victimD, LatencyTarget: 2 * time.Millisecond})
	r.g.add(aggrK, throttle.Spec{Device: aggrD, Limits: held100M, Elastic: true})
	r.c = New(r.g, r.d, Options{Period: 100 * time.Millisecond, QuietAfter: 300 * time.Millisecond,
		ProbeAfter: time.Second, Lifter: lifter, Observer: r.obs, Now: func() time.Time { return r.now },
		Notify: func(k throttle.Key) { r.notified = append(r.notified, k) }})
	return r
}

// period advances the clock by one period, during which the victim did
// victimIOs of lat each, and the disk completed 100 IOs of 4*lat (its mean
// is not what the target is checked against), and steps.
func (r *rig) period(victimIOs uint64, lat time.Duration) {
	r.now = r.now.Add(100 * time.Millisecond)
	r.g.io(victimK, victimIOs)
	r.d.complete(victimD, victimIOs, lat)
	r.d.complete(disk, 100, 4*lat)
	r.c.Step(context.Background())
}

// periods runs n periods alike.
func (r *rig) periods(n int, victimIOs uint64, lat time.Duration) {
	for range n {
		r.period(victimIOs, lat)
	}
}

func (r *rig) wantHeld(t *testing.T, held bool, when string) {
	t.Helper()
	l, lifted := r.g.kernel(aggrK)
	if lifted == held {
		t.Fatalf("%s: aggressor lifted=%v (kernel %v), want held=%v; lifts %v", when, lifted, l, held, r.g.lifts)
	}
	st, _ := r.c.State(aggrK)
	if st.Held != held {
		t.Fatalf("%s: state held=%v (%s), want %v", when, st.Held, st.Reason, held)
	}
}

func TestLiftsWhenVictimQuietAndHoldsWithinOnePeriod(t *testing.T) {
	r := newRig(t, nil)
	r.period(0, time.Millisecond)
	r.wantHeld(t, true, "first period (starts held)")
	r.period(0, time.Millisecond)
	r.period(0, time.Millisecond)
	r.wantHeld(t, true, "victim quiet for less than QuietAfter")
	r.period(0, time.Millisecond)
	r.wantHeld(t, false, "victim quiet for QuietAfter")
	if l, _ := r.g.kernel(aggrK); l != (throttle.Limits{}) {
		t.Fatalf("lifted to %v, want no limit", l)
	}

	// The victim is active and the disk meets its target: stay lifted.
	r.period(50, time.Millisecond)
	r.wantHeld(t, false, "victim active, target met")

	// The disk misses the target while the victim is active: held at the
	// end of that very period.
	r.period(50, 5*time.Millisecond)
	r.wantHeld(t, true, "victim active, target missed")
	if l, _ := r.g.kernel(aggrK); l != held100M {
		t.Fatalf("held at %v, want the spec's %v", l, held100M)
	}
	if len(r.obs.reactions) != 1 || r.obs.reactions[0] != 100*time.Millisecond {
		t.Fatalf("reactions %v, want one of one period (100ms)", r.obs.reactions)
	}
	st, _ := r.c.State(victimK)
	if !st.Protected || !st.Held || st.Latency != 5*time.Millisecond || st.DiskLatency != 20*time.Millisecond ||
		!strings.Contains(st.Reason, "mean IO time 5ms is above its target 2ms") {
		t.Fatalf("victim state %+v", st)
	}

	// Held while the victim stays active, even though the disk now meets
	// the target (because of the hold).
	r.periods(5, 50, time.Millisecond)
	r.wantHeld(t, true, "victim active after the hold")

	// The victim goes quiet: lifted after QuietAfter, not before.
	r.period(0, time.Millisecond)
	r.period(0, time.Millisecond)
	r.wantHeld(t, true, "victim quiet for less than QuietAfter")
	r.period(0, time.Millisecond)
	r.wantHeld(t, false, "victim quiet for QuietAfter")
	if len(r.notified) != 3 || r.notified[0] != aggrK {
		t.Fatalf("notified %v, want the aggressor at each of its 3 changes (lift, hold, lift)", r.notified)
	}
	st, _ = r.c.State(aggrK)
	if st.Holds != 1 || st.HeldTime != 1100*time.Millisecond {
		t.Fatalf("aggressor holds=%d heldTime=%v, want 1 hold (the initial held state is not one) over 1.1s", st.Holds, st.HeldTime)
	}
}

func TestProbesAfterHoldingAndBacksOff(t *testing.T) {
	r := newRig(t, nil)
	// Victim active and missing from the start: held.
	r.period(50, 5*time.Millisecond)
	r.period(50, 5*time.Millisecond)
	r.wantHeld(t, true, "missing")
	// Target met while held: a probe lift after ProbeAfter (1s).
	r.periods(9, 50, time.Millisecond)
	r.wantHeld(t, true, "before ProbeAfter")
	r.period(50, time.Millisecond)
	r.wantHeld(t, false, "probe")
	// The probe misses: held again, and the next probe waits twice as long.
	r.period(50, 5*time.Millisecond)
	r.wantHeld(t, true, "probe missed")
	r.periods(19, 50, time.Millisecond)
	r.wantHeld(t, true, "before the doubled ProbeAfter")
	r.period(50, time.Millisecond)
	r.wantHeld(t, false, "second probe")
	// This probe meets the target: stay lifted while it does.
	r.periods(5, 50, time.Millisecond)
	r.wantHeld(t, false, "probe met the target")
}

// burstLifter stands for a volume with burst credits: lifted to its burst
// rate, not to no limit.
type burstLifter struct{}

func (burstLifter) Lifted(st throttle.GroupStatus) throttle.Limits {
	return throttle.Limits{WriteBytesPerSecond: 4 * st.Spec.Limits.WriteBytesPerSecond}
}

func TestLifterDecidesTheLift(t *testing.T) {
	r := newRig(t, burstLifter{})
	r.periods(4, 0, time.Millisecond)
	l, lifted := r.g.kernel(aggrK)
	if !lifted || l.WriteBytesPerSecond != 400<<20 {
		t.Fatalf("lifted=%v to %v, want the burst rate 400Mi", lifted, l)
	}
}

func TestNoProtectedGroupLiftsAtOnce(t *testing.T) {
	r := newRig(t, nil)
	r.g.Remove(victimK)
	r.period(0, 50*time.Millisecond)
	r.wantHeld(t, false, "no protected group")
}

func TestGroupWithoutDiskStaysHeld(t *testing.T) {
	r := newRig(t, nil)
	r.d.noDisk[aggrD] = true
	r.periods(5, 0, time.Millisecond)
	if _, lifted := r.g.kernel(aggrK); lifted {
		t.Fatal("a group without a disk to watch was lifted")
	}
	st, _ := r.c.State(aggrK)
	if !st.Held || !errors.Is(ErrNoDisk, ErrNoDisk) || !strings.Contains(st.Reason, "no disk to watch") {
		t.Fatalf("state %+v, want held with the reason", st)
	}
}

func TestGroupNoLongerElasticIsHeldAndRemovedGroupsForgotten(t *testing.T) {
	r := newRig(t, nil)
	r.periods(4, 0, time.Millisecond)
	r.wantHeld(t, false, "lifted")
	// Re-placed without elastic (the spec changed): the controller puts
	// the spec limits back.
	r.g.Update(aggrK, func(s *throttle.GroupStatus) { s.Spec.Elastic = false })
	r.period(0, time.Millisecond)
	if _, lifted := r.g.kernel(aggrK); lifted {
		t.Fatal("a group that is no longer elastic stayed lifted")
	}
	if _, ok := r.c.State(aggrK); ok {
		t.Fatal("a group that is no longer elastic still has a state")
	}
	r.g.Remove(victimK)
	r.period(0, time.Millisecond)
	if len(r.c.States()) != 0 || len(r.c.domains) != 0 {
		t.Fatalf("states %v domains %d after every group left", r.c.States(), len(r.c.domains))
	}
}
