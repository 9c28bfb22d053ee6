package statsworker

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestAdvanceRatesOverTheInterval(t *testing.T) {
	s, next := advance(nil, 1, throttle.Counters{WriteBytes: 1000, WriteIOs: 10}, t0, 0)
	if s.WriteBytes != 1000 || s.WriteBytesPerSecond != 0 || !s.SampledAt.Equal(t0) {
		t.Fatalf("first sample = %+v; want the totals and no rate", s)
	}
	s, _ = advance(&next, 1, throttle.Counters{WriteBytes: 5000, WriteIOs: 30, ReadBytes: 200}, t0.Add(2*time.Second), 0)
	if s.WriteBytesPerSecond != 2000 || s.WriteIOPS != 10 || s.ReadBytesPerSecond != 100 || s.WriteBytes != 5000 {
		t.Fatalf("second sample = %+v; want 2000 B/s, 10 IOPS, 100 B/s read", s)
	}
	same, _ := advance(&next, 1, throttle.Counters{WriteBytes: 5000}, t0, 0)
	if same.WriteBytesPerSecond != 0 {
		t.Errorf("no time passed but a rate of %v", same.WriteBytesPerSecond)
	}
}

// A counted cgroup went away: the total keeps what it had and goes on
// growing with the counters that remain.
func TestAdvanceCarriesOverDrops(t *testing.T) {
	_, s1 := advance(nil, 1, throttle.Counters{WriteBytes: 150}, t0, 0) // A 100 + B 50
	st, s2 := advance(&s1, 1, throttle.Counters{WriteBytes: 100}, t0.Add(time.Second), 0)
	if st.WriteBytes != 150 || st.WriteBytesPerSecond != 0 {
		t.Fatalf("after B went away: %+v; want total 150, rate 0", st)
	}
	st, _ = advance(&s2, 1, throttle.Counters{WriteBytes: 120}, t0.Add(2*time.Second), 0)
	if st.WriteBytes != 170 || st.WriteBytesPerSecond != 20 {
		t.Fatalf("after A grew by 20: %+v; want total 170, 20 B/s", st)
	}
}

func TestAdvanceStartsAfreshForANewIncarnation(t *testing.T) {
	_, s1 := advance(nil, 1, throttle.Counters{WriteBytes: 1 << 30}, t0, 0)
	st, s2 := advance(&s1, 2, throttle.Counters{WriteBytes: 10}, t0.Add(time.Second), 0)
	if st.WriteBytes != 10 || st.WriteBytesPerSecond != 0 || s2.inc != 2 {
		t.Fatalf("new incarnation: %+v; want its own counters, no rate", st)
	}
}

func TestAdvanceTotalsNeverDecrease(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var prev *sample
	var last throttle.Stats
	at := t0
	for i := range 10000 {
		raw := throttle.Counters{ReadBytes: r.Uint64N(1000), WriteBytes: r.Uint64N(1000), ReadIOs: r.Uint64N(10), WriteIOs: r.Uint64N(10)}
		at = at.Add(time.Second)
		st, next := advance(prev, 1, raw, at, 0)
		if i > 0 && (st.ReadBytes < last.ReadBytes || st.WriteBytes < last.WriteBytes || st.ReadIOs < last.ReadIOs || st.WriteIOs < last.WriteIOs) {
			t.Fatalf("step %d: totals went down: %+v after %+v", i, st, last)
		}
		if st.ReadBytesPerSecond < 0 || st.WriteIOPS < 0 {
			t.Fatalf("step %d: negative rate %+v", i, st)
		}
		last, prev = st, &next
	}
}

// A sync shortly after the last one (an event: a new container, a limit
// change) updates the totals but keeps the rates of the last full window,
// so that one IO request more or less does not show up as a rate spike.
func TestAdvanceKeepsRatesInsideTheMinimumWindow(t *testing.T) {
	const window = 5 * time.Second
	_, s1 := advance(nil, 1, throttle.Counters{WriteBytes: 0}, t0, window)
	st, s2 := advance(&s1, 1, throttle.Counters{WriteBytes: 10 << 20}, t0.Add(10*time.Second), window)
	if st.WriteBytesPerSecond != 1<<20 {
		t.Fatalf("after a full window: %v B/s, want 1 MiB/s", st.WriteBytesPerSecond)
	}
	st, s3 := advance(&s2, 1, throttle.Counters{WriteBytes: 12 << 20}, t0.Add(10*time.Second+50*time.Millisecond), window)
	if st.WriteBytes != 12<<20 || st.WriteBytesPerSecond != 1<<20 {
		t.Fatalf("50 ms later: total %d, rate %v; want the new total and the old 1 MiB/s", st.WriteBytes, st.WriteBytesPerSecond)
	}
	st, _ = advance(&s3, 1, throttle.Counters{WriteBytes: 20 << 20}, t0.Add(15*time.Second), window)
	if st.WriteBytesPerSecond != 2<<20 {
		t.Fatalf("a window after the last full one: %v B/s, want 2 MiB/s (10 MiB over 5 s)", st.WriteBytesPerSecond)
	}
}
