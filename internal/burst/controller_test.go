package burst

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

const mib = 1 << 20

var (
	baseline = throttle.Limits{WriteBytesPerSecond: 8 * mib}
	burst40  = Config{Rates: throttle.Limits{WriteBytesPerSecond: 40 * mib}, Seconds: 5}
)

// tracked is a controller over one group at the baseline that tracks it
// with burst40 and has taken its first sample at start (a full bucket: the
// burst is in force).
func tracked(o Options) (f *fakeGroups, c *Controller, start time.Time) {
	f = newFakeGroups(baseline)
	c = New(f, o)
	c.Track(f.key, burst40)
	start = time.Now()
	c.step(context.Background(), start)
	return f, c, start
}

// run drives the controller and the simulated writer for d in ticks,
// starting at start, and returns the bytes written and when bursting
// stopped (zero if it did not).
func run(c *Controller, f *fakeGroups, start time.Time, d time.Duration, demand float64) (written float64, stopped time.Duration) {
	tick := c.interval
	for el := time.Duration(0); el < d; el += tick {
		was := f.bursting()
		written += f.write(tick, demand)
		c.step(context.Background(), start.Add(el+tick))
		if was && !f.bursting() && stopped == 0 {
			stopped = el + tick
		}
	}
	return written, stopped
}

func TestFullSpeedWriterBurstsForBurstSecondsThenHoldsTheBaseline(t *testing.T) {
	f, c, start := tracked(Options{})
	if !f.bursting() {
		t.Fatal("a new group does not burst: its bucket starts full")
	}
	written, stopped := run(c, f, start, 20*time.Second, -1)
	model := 40.0*5 + 8*15 // MiB: 5 s at the burst rate, then the baseline
	if got := written / mib; math.Abs(got-model)/model > 0.03 {
		t.Errorf("wrote %.1f MiB in 20 s, model %.0f MiB", got, model)
	}
	if stopped < 4500*time.Millisecond || stopped > 5*time.Second {
		t.Errorf("burst stopped after %v, want within a tick before the bucket's 5 s", stopped)
	}
	if f.writes != 2 {
		t.Errorf("%d kernel writes, want 2 (burst, then baseline): a writer held at the baseline must not flap", f.writes)
	}
	if b := f.bucket(t); !b.Empty || b.Bursting || b.Full {
		t.Errorf("bucket after the burst: %+v", b)
	}
}

func TestIdlePauseRefillsInProportion(t *testing.T) {
	f, c, start := tracked(Options{})
	run(c, f, start, 10*time.Second, -1) // drain it
	// The switch to the baseline came a tick before the bucket ran dry, so
	// that tick's credit is left; 10 s idle add 8 MiB/s * 10 s = 80 MiB,
	// half the bucket.
	drained := f.bucket(t).Balance
	run(c, f, start.Add(10*time.Second), 10*time.Second, 0)
	b := f.bucket(t)
	if got := (b.Balance - drained) / mib; math.Abs(got-80) > 1 {
		t.Errorf("a 10 s pause refilled %.1f MiB, want 80 MiB (baseline * pause)", got)
	}
	if !b.Bursting {
		t.Error("a half-full bucket does not burst")
	}
	// ...which sustains the burst for half of burstSeconds.
	_, stopped := run(c, f, start.Add(20*time.Second), 10*time.Second, -1)
	if want := time.Duration(b.SecondsLeft() * float64(time.Second)); stopped < want-300*time.Millisecond || stopped > want {
		t.Errorf("a bucket with %.2f s left burst for %v", b.SecondsLeft(), stopped)
	}
}

func TestRearmNeedsATenthOfTheBucket(t *testing.T) {
	f, c, start := tracked(Options{})
	run(c, f, start, 10*time.Second, -1)
	writes := f.writes
	// Writing just under the baseline refills 0.5 MiB/s from the tick's
	// worth of credit left at the switch (8 MiB): a tenth of the bucket
	// (16 MiB) is back after 16 s; until then the kernel stays at the
	// baseline.
	run(c, f, start.Add(10*time.Second), 14*time.Second, 7.5*mib)
	if f.writes != writes || f.bursting() {
		t.Errorf("re-armed at %.1f%% of the bucket (%d writes)", 100*f.bucket(t).Ratio(), f.writes-writes)
	}
	run(c, f, start.Add(24*time.Second), 3*time.Second, 7.5*mib)
	if !f.bursting() {
		t.Errorf("not re-armed at %.0f%% of the bucket", 100*f.bucket(t).Ratio())
	}
}

func TestRestartKeepsTheBalance(t *testing.T) {
	file := filepath.Join(t.TempDir(), "buckets.json")
	f, c, start := tracked(Options{StateFile: file})
	run(c, f, start, 2500*time.Millisecond, -1) // half the bucket spent
	before := f.bucket(t).Balance
	c.persist(context.Background())

	// The plugin is down 1 s while the writer goes on at the burst rate
	// the kernel still holds: 32 MiB more drained.
	f.write(time.Second, -1)
	c2 := New(f, Options{StateFile: file})
	c2.Track(f.key, burst40)
	c2.step(context.Background(), start.Add(3500*time.Millisecond))
	after := f.bucket(t).Balance
	if want := before - 32*mib; math.Abs(after-want) > 0.5*mib {
		t.Errorf("balance after the restart %.1f MiB, want %.1f MiB (%.1f before, minus the downtime's use)", after/mib, want/mib, before/mib)
	}
	if !f.bursting() {
		t.Error("the restarted controller does not burst on a bucket with credit")
	}
	// A drained bucket stays drained.
	run(c2, f, start.Add(3500*time.Millisecond), 3*time.Second, -1)
	c2.persist(context.Background())
	c3 := New(f, Options{StateFile: file})
	c3.Track(f.key, burst40)
	c3.step(context.Background(), start.Add(6750*time.Millisecond))
	if f.bursting() {
		t.Errorf("a restart refilled a drained bucket: %+v", f.bucket(t))
	}
}

func TestBaselineChangesReshapeTheBucket(t *testing.T) {
	f := newFakeGroups(baseline)
	c := New(f, Options{})
	c.Track(f.key, burst40)
	c.step(context.Background(), time.Now())
	f.spec.WriteBytesPerSecond = 24 * mib // expansion of a per-GiB volume
	c.step(context.Background(), time.Now())
	if b := f.bucket(t); b.Capacity != 16*mib*5 || b.Balance != b.Capacity {
		t.Errorf("bucket after the baseline rose: %+v, want capacity (40-24) MiB/s * 5 s, full", b)
	}
	f.spec.WriteBytesPerSecond = 64 * mib // past the burst rate: no bucket
	c.step(context.Background(), time.Now())
	if f.state != nil || f.boost != (throttle.Limits{}) {
		t.Errorf("a baseline above the burst rate kept a bucket: %+v boost %v", f.state, f.boost)
	}
}

func TestTrackWithoutBurstForgets(t *testing.T) {
	f := newFakeGroups(baseline)
	c := New(f, Options{})
	c.Track(f.key, burst40)
	c.Track(f.key, Config{})
	if c.Len() != 0 {
		t.Errorf("tracking a config without burst keeps %d groups", c.Len())
	}
}

func TestLongerBurstSecondsGrowTheBucket(t *testing.T) {
	f := newFakeGroups(baseline)
	c := New(f, Options{})
	c.Track(f.key, burst40)
	now := time.Now()
	c.step(context.Background(), now)
	c.Track(f.key, Config{Rates: burst40.Rates, Seconds: 10})
	c.step(context.Background(), now)
	if b := f.bucket(t); b.Capacity != 32*mib*10 || b.Balance != 32*mib*5 {
		t.Errorf("bucket after burstSeconds went from 5 to 10: %+v, want capacity for 10 s and the balance kept", b)
	}
}

func TestNoFileWithoutBursts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "burst", "buckets.json")
	f := newFakeGroups(baseline)
	c := New(f, Options{StateFile: file})
	c.step(context.Background(), time.Now())
	c.persist(context.Background())
	if _, err := os.Stat(filepath.Dir(file)); !os.IsNotExist(err) {
		t.Errorf("a controller without bursts wrote %s: %v", file, err)
	}
	c.Track(f.key, burst40)
	c.step(context.Background(), time.Now())
	c.persist(context.Background())
	if _, err := os.Stat(file); err != nil {
		t.Errorf("a tracked burst was not persisted: %v", err)
	}
}
