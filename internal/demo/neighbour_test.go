package demo

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

// neighbourPhases builds the three phases with the given victim IOPS and
// p99s and aggressor rates (alone's rate is ignored).
func neighbourPhases(iops [3]float64, p99 [3]time.Duration, wrote [3]float64, limit float64) []*neighbourPhase {
	pub := func(name string) *Publication { return &Publication{Volume: &Volume{Name: name}} }
	ps := []*neighbourPhase{{name: "alone"}, {name: "unthrottled", agg: pub("noisy")}, {name: "throttled", agg: pub("throttled"), limit: limit}}
	for i, p := range ps {
		p.iops, p.aggressor = iops[i], wrote[i]
		p.victim = iobench.Report{Done: true, P50: p99[i] / 4, P99: p99[i], P999: 2 * p99[i]}
	}
	return ps
}

func TestNeighbourTable(t *testing.T) {
	var out bytes.Buffer
	renderNeighbourTable(&out, neighbourPhases([3]float64{10000, 1500, 9500},
		[3]time.Duration{100 * time.Microsecond, 900 * time.Microsecond, 120 * time.Microsecond}, [3]float64{0, 1600 * mib, 20 * mib}, 20*mib))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want a header and 3 phases:\n%s", len(lines), out.String())
	}
	for i, want := range [][]string{
		{"phase", "victim IOPS", "p99.9", "IOPS vs alone", "p99 vs alone", "aggressor wrote"},
		{"alone", "10000", "100 us", "1.00", "1.00x"},
		{"unthrottled", "noisy (no limits)", "1500", "900 us", "0.15", "9.00x", "1.56 GiB/s"},
		{"throttled", "throttled (20.0 MiB/s)", "9500", "0.95", "1.20x", "20.0 MiB/s"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
}

func TestNeighbourVerdict(t *testing.T) {
	p99s := [3]time.Duration{100 * time.Microsecond, 900 * time.Microsecond, 120 * time.Microsecond}
	for _, c := range []struct {
		name         string
		iops         [3]float64
		wrote        [3]float64
		err, victim  string
		verdictShown bool
	}{
		{name: "held, victim protected", iops: [3]float64{10000, 1500, 9500}, wrote: [3]float64{0, 1600 * mib, 20.2 * mib},
			victim: "bar: >= 0.9 and <= 1.5x: met", verdictShown: true},
		{name: "held, victim hurt anyway", iops: [3]float64{10000, 1500, 6000}, wrote: [3]float64{0, 1600 * mib, 19.8 * mib},
			victim: "NOT met on this run", verdictShown: true},
		{name: "limit escaped", iops: [3]float64{10000, 1500, 9500}, wrote: [3]float64{0, 1600 * mib, 40 * mib},
			err: "2.000x its 20.0 MiB/s limit, outside 0.9-1.1: the limit did not hold"},
		{name: "disk slower than the limit", iops: [3]float64{10000, 9000, 9500}, wrote: [3]float64{0, 10 * mib, 9 * mib},
			err: "the disk itself is slower than the limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			s := &Session{deps: Deps{Out: &out}}
			err := neighbourVerdict(s, neighbourPhases(c.iops, p99s, c.wrote, 20*mib))
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("verdict failed: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("verdict = %v, want an error saying %q", err, c.err)
			}
			if c.victim != "" && !strings.Contains(out.String(), c.victim) {
				t.Errorf("output lacks %q:\n%s", c.victim, out.String())
			}
			if got := strings.Contains(out.String(), "PASS"); got != c.verdictShown {
				t.Errorf("PASS shown: %v, want %v:\n%s", got, c.verdictShown, out.String())
			}
		})
	}
}
