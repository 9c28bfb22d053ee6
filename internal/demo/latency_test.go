package demo

import (
	"testing"
	"time"
)

func TestFormatLatency(t *testing.T) {
	for d, want := range map[time.Duration]string{
		85 * time.Microsecond: "85.0 us", 614 * time.Microsecond: "614 us", 1234 * time.Microsecond: "1.23 ms", 25 * time.Millisecond: "25.0 ms",
	} {
		if got := formatLatency(d); got != want {
			t.Errorf("formatLatency(%v) = %q, want %q", d, got, want)
		}
	}
}
