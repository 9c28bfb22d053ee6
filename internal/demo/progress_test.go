package demo

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

const mib = 1 << 20

func TestBarDrawsTheRateAgainstTheLimit(t *testing.T) {
	cases := []struct {
		name       string
		rate       float64
		hashes     int
		overflows  bool
		markIntact bool
	}{
		{"idle", 0, 0, false, true},
		{"half the limit", 10 * mib, 16, false, true},
		{"at the limit", 20 * mib, 32, false, true},
		{"a quarter over", 25 * mib, 40, false, false},
		{"far over", 2000 * mib, 40, true, false},
	}
	for _, c := range cases {
		g := gauge{Unit: UnitBytes, Limit: 20 * mib, Scale: 20 * mib, Rate: c.rate}
		b := g.bar()
		inner := b[1 : 1+barWidth]
		if got := strings.Count(inner, "#"); got != c.hashes {
			t.Errorf("%s: bar %q has %d '#', want %d", c.name, b, got, c.hashes)
		}
		if got := strings.HasSuffix(b, ">"); got != c.overflows {
			t.Errorf("%s: bar %q overflow marker %t, want %t", c.name, b, got, c.overflows)
		}
		if got := inner[barWidth*4/5] == '|'; got != c.markIntact {
			t.Errorf("%s: bar %q limit mark visible %t, want %t", c.name, b, got, c.markIntact)
		}
	}
}

func TestAgainstSaysHowTheRateComparesWithTheLimit(t *testing.T) {
	for _, c := range []struct {
		g    gauge
		want string
	}{
		{gauge{Unit: UnitBytes, Limit: 20 * mib, Scale: 20 * mib, Rate: 20.2 * mib}, "1.01x of its 20.0 MiB/s limit"},
		{gauge{Unit: UnitIOPS, Limit: 500, Scale: 500, Rate: 250}, "0.50x of its 500 IOPS limit"},
		{gauge{Unit: UnitBytes, Scale: 20 * mib, Rate: 1640 * mib}, "no limit: 82.0x the other's limit"},
		{gauge{Unit: UnitBytes, Scale: 20 * mib}, "no limit"},
	} {
		if got := c.g.against(); got != c.want {
			t.Errorf("against() = %q, want %q", got, c.want)
		}
	}
}

// reportsAt makes one report every 100 ms with per-step bytes.
func reportsAt(steps ...uint64) []iobench.Report {
	var out []iobench.Report
	var total uint64
	for i, s := range steps {
		total += s
		out = append(out, iobench.Report{Elapsed: time.Duration(i+1) * 100 * time.Millisecond, Bytes: total, Ops: total / 4096})
	}
	return out
}

func TestWindowRateUsesTheLastSecond(t *testing.T) {
	if got := windowRate(nil, UnitBytes, time.Second); got != 0 {
		t.Errorf("no reports: %v", got)
	}
	// 2 MiB per 100 ms for a second, then 1 MiB per 100 ms for a second.
	var steps []uint64
	for range 10 {
		steps = append(steps, 2*mib)
	}
	for range 10 {
		steps = append(steps, 1*mib)
	}
	r := reportsAt(steps...)
	if got, want := windowRate(r[:10], UnitBytes, time.Second), 20.0*mib; math.Abs(got-want) > 1 {
		t.Errorf("first second: %v, want %v (the average until a window passed)", got, want)
	}
	if got, want := windowRate(r, UnitBytes, time.Second), 10.0*mib; math.Abs(got-want) > 1 {
		t.Errorf("last second: %v, want %v", got, want)
	}
	if got, want := windowRate(r, UnitIOPS, time.Second), 10.0*mib/4096; math.Abs(got-want) > 1 {
		t.Errorf("IOPS: %v, want %v", got, want)
	}
}

func TestLiveViewRedrawsInPlaceOnATerminal(t *testing.T) {
	var out bytes.Buffer
	v := &liveView{w: &out, tty: true}
	gs := []gauge{
		{Name: "limited", Unit: UnitBytes, Limit: 20 * mib, Scale: 20 * mib, Rate: 20 * mib, Elapsed: time.Second, Duration: 5 * time.Second},
		{Name: "unlimited", Unit: UnitBytes, Scale: 20 * mib, Rate: 1500 * mib, Elapsed: time.Second, Duration: 5 * time.Second},
	}
	v.update(gs)
	first := out.String()
	if strings.Contains(first, "A\r") || !strings.HasPrefix(first, "\r\x1b[2K") {
		t.Errorf("first draw moves the cursor up: %q", first)
	}
	if n := strings.Count(first, "\n"); n != 3 {
		t.Errorf("first draw has %d lines, want 3 (two bars and the clock): %q", n, first)
	}
	if !strings.Contains(first, "1.0s of 5s") {
		t.Errorf("clock missing: %q", first)
	}
	out.Reset()
	gs[0].Elapsed, gs[1].Elapsed = 1100*time.Millisecond, 1100*time.Millisecond
	v.update(gs)
	if !strings.HasPrefix(out.String(), "\x1b[3A") {
		t.Errorf("redraw does not go back up 3 lines: %q", out.String())
	}
	if v.interval() != 100*time.Millisecond {
		t.Errorf("terminal refresh %v", v.interval())
	}
}

func TestLiveViewPrintsPlainLinesOncePerSecond(t *testing.T) {
	var out bytes.Buffer
	v := &liveView{w: &out}
	g := []gauge{{Name: "limited", Unit: UnitBytes, Limit: 20 * mib, Scale: 20 * mib, Rate: 20 * mib}}
	var printed []string
	for _, ms := range []int{300, 900, 1100, 1500, 1999, 2000, 2400, 3050} {
		g[0].Elapsed = time.Duration(ms) * time.Millisecond
		out.Reset()
		v.update(g)
		if out.Len() > 0 {
			printed = append(printed, out.String())
		}
	}
	if len(printed) != 3 {
		t.Fatalf("printed %d times, want 3 (at 1.1s, 2.0s, 3.05s): %q", len(printed), printed)
	}
	if strings.Contains(printed[0], "\x1b") {
		t.Errorf("plain output holds escape sequences: %q", printed[0])
	}
	if want := "[ 1.1s] limited      20.0 MiB/s  1.00x of its 20.0 MiB/s limit"; !strings.Contains(printed[0], want) {
		t.Errorf("line %q does not hold %q", printed[0], want)
	}
}
