package iobench

import (
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h Hist
	if h.Quantile(0.99) != 0 {
		t.Error("an empty histogram has a p99")
	}
	// 1..1000 us, once each: the q-quantile is q*1000 us.
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * time.Microsecond)
	}
	if h.Count() != 1000 {
		t.Errorf("Count = %d, want 1000", h.Count())
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.999, 999 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.Quantile(c.q)
		// The bucket's upper edge: never below, at most 2% above.
		if got < c.want || float64(got) > float64(c.want)*histStep {
			t.Errorf("Quantile(%v) = %v, want %v to %v", c.q, got, c.want, time.Duration(float64(c.want)*histStep))
		}
	}
	h.Add(time.Hour) // beyond the last bucket: counted there
	if got := h.Quantile(1); got < 10*time.Second {
		t.Errorf("max after an hour-long op = %v", got)
	}
}
