package demo

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLatencyHistQuantiles(t *testing.T) {
	var h latencyHist
	if h.quantile(0.99) != 0 {
		t.Error("an empty histogram has a p99")
	}
	// 1..1000 us, once each: the q-quantile is q*1000 us.
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.999, 999 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.quantile(c.q)
		// The bucket's upper edge: never below, at most 2% above.
		if got < c.want || float64(got) > float64(c.want)*latencyStep {
			t.Errorf("quantile(%v) = %v, want %v to %v", c.q, got, c.want, time.Duration(float64(c.want)*latencyStep))
		}
	}
	h.add(time.Hour) // beyond the last bucket: counted there
	if got := h.quantile(1); got < 10*time.Second {
		t.Errorf("max after an hour-long op = %v", got)
	}
}

func TestFormatLatency(t *testing.T) {
	for d, want := range map[time.Duration]string{
		85 * time.Microsecond: "85.0 us", 614 * time.Microsecond: "614 us", 1234 * time.Microsecond: "1.23 ms", 25 * time.Millisecond: "25.0 ms",
	} {
		if got := formatLatency(d); got != want {
			t.Errorf("formatLatency(%v) = %q, want %q", d, got, want)
		}
	}
}

// With Latency the progress reports carry the percentiles of their window
// and the last one those of the whole run; without, none do.
func TestRunIOReportsLatency(t *testing.T) {
	dir := directIODir(t)
	for _, latency := range []bool{true, false} {
		j := IOJob{File: filepath.Join(dir, "lat.dat"), Mode: ModeRead, Unit: UnitIOPS, Block: 4096, FileSize: 1 << 20,
			Duration: 300 * time.Millisecond, Report: 50 * time.Millisecond, Latency: latency}
		var out, errs bytes.Buffer
		if err := RunIO(context.Background(), j.Args(), strings.NewReader("go\n"), &out, &errs); err != nil {
			t.Fatalf("RunIO: %v (%s)", err, errs.String())
		}
		rs := decodeReports(t, out.Bytes())
		checkReports(t, rs, j)
		last := rs[len(rs)-1]
		for _, r := range rs[1:] {
			has := r.P50 > 0 && r.P99 >= r.P50
			if latency != has {
				t.Errorf("latency %v: report %+v", latency, r)
			}
			if r != last && r.P999 != 0 {
				t.Errorf("a progress report has a p99.9: %+v", r)
			}
		}
		if latency && (last.P999 < last.P99 || last.P99 > time.Second) {
			t.Errorf("final report %+v: want p50 <= p99 <= p99.9, all plausible", last)
		}
	}
}
