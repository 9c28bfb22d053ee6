package elastic

import (
	"testing"
	"time"
)

func TestParseDiskStat(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want DiskStat
	}{
		// 6.1+: 17 fields (discards and flushes).
		{"17 fields", "  129474     9361  2676004    23705   149243   173328 37738637    73427        0    19588    99244    17541       22  5199824     2004     1409      108\n",
			DiskStat{IOs: 129474 + 149243 + 17541 + 1409, Busy: (23705 + 73427 + 2004 + 108) * time.Millisecond}},
		// Before 4.18: 11 fields.
		{"11 fields", "10 0 80 5 20 0 160 15 0 20 20", DiskStat{IOs: 30, Busy: 20 * time.Millisecond}},
	}
	for _, c := range cases {
		got, err := ParseDiskStat([]byte(c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	for _, bad := range []string{"", "1 2 3", "1 2 3 x 5 6 7 8 9 10 11"} {
		if _, err := ParseDiskStat([]byte(bad)); err == nil {
			t.Errorf("ParseDiskStat(%q) succeeded", bad)
		}
	}
}

func TestDiskStatLatency(t *testing.T) {
	prev := DiskStat{IOs: 100, Busy: time.Second}
	l, n := DiskStat{IOs: 150, Busy: time.Second + 100*time.Millisecond}.Latency(prev)
	if l != 2*time.Millisecond || n != 50 {
		t.Fatalf("latency %v over %d IOs, want 2ms over 50", l, n)
	}
	if l, n := prev.Latency(prev); l != 0 || n != 0 {
		t.Fatalf("no IO: %v %d, want 0 0", l, n)
	}
}
