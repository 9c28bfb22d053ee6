package statsworker

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/pkg/throttle"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestAdvanceRatesOverTheInterval(t *testing.T) {
	s, next := advance(nil, 1, throttle.Counters{WriteBytes: 1000, WriteIOs: 10}, t0)
	if s.WriteBytes != 1000 || s.WriteBytesPerSecond != 0 || !s.SampledAt.Equal(t0) {
		t.Fatalf("first sample = %+v; want the totals and no rate", s)
	}
	s, _ = advance(&next, 1, throttle.Counters{WriteBytes: 5000, WriteIOs: 30, ReadBytes: 200}, t0.Add(2*time.Second))
	if s.WriteBytesPerSecond != 2000 || s.WriteIOPS != 10 || s.ReadBytesPerSecond != 100 || s.WriteBytes != 5000 {
		t.Fatalf("second sample = %+v; want 2000 B/s, 10 IOPS, 100 B/s read", s)
	}
	same, _ := advance(&next, 1, throttle.Counters{WriteBytes: 5000}, t0)
	if same.WriteBytesPerSecond != 0 {
		t.Errorf("no time passed but a rate of %v", same.WriteBytesPerSecond)
	}
}

// A counted cgroup went away: the total keeps what it had and goes on
// growing with the counters that remain.
func TestAdvanceCarriesOverDrops(t *testing.T) {
	_, s1 := advance(nil, 1, throttle.Counters{WriteBytes: 150}, t0) // A 100 + B 50
	st, s2 := advance(&s1, 1, throttle.Counters{WriteBytes: 100}, t0.Add(time.Second))
	if st.WriteBytes != 150 || st.WriteBytesPerSecond != 0 {
		t.Fatalf("after B went away: %+v; want total 150, rate 0", st)
	}
	st, _ = advance(&s2, 1, throttle.Counters{WriteBytes: 120}, t0.Add(2*time.Second))
	if st.WriteBytes != 170 || st.WriteBytesPerSecond != 20 {
		t.Fatalf("after A grew by 20: %+v; want total 170, 20 B/s", st)
	}
}

func TestAdvanceStartsAfreshForANewIncarnation(t *testing.T) {
	_, s1 := advance(nil, 1, throttle.Counters{WriteBytes: 1 << 30}, t0)
	st, s2 := advance(&s1, 2, throttle.Counters{WriteBytes: 10}, t0.Add(time.Second))
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
		st, next := advance(prev, 1, raw, at)
		if i > 0 && (st.ReadBytes < last.ReadBytes || st.WriteBytes < last.WriteBytes || st.ReadIOs < last.ReadIOs || st.WriteIOs < last.WriteIOs) {
			t.Fatalf("step %d: totals went down: %+v after %+v", i, st, last)
		}
		if st.ReadBytesPerSecond < 0 || st.WriteIOPS < 0 {
			t.Fatalf("step %d: negative rate %+v", i, st)
		}
		last, prev = st, &next
	}
}
