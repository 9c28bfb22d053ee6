package demo

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
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
