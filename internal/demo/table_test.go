package demo

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

func TestFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{formatBytes(512), "512 B"},
		{formatBytes(20 * mib), "20.0 MiB"},
		{formatBytes(1.52 * 1024 * mib), "1.52 GiB"},
		{formatBytes(130 * mib), "130 MiB"},
		{formatRate(UnitBytes, 20.1*mib), "20.1 MiB/s"},
		{formatRate(UnitIOPS, 499.6), "500 IOPS"},
		{formatAmount(UnitIOPS, 2500), "2500 IOs"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestRenderTable(t *testing.T) {
	pod := "/sys/fs/cgroup/blkio/csi-blkio-demo-1/kubepods/besteffort/podU"
	active := func(wbytes uint64) throttle.GroupStatus {
		return throttle.GroupStatus{Phase: throttle.PhaseActive, PodCgroup: pod, Cgroups: []string{pod, pod + "/writer"},
			Stats: throttle.Stats{SampledAt: time.Now(), WriteBytes: wbytes}}
	}
	rs := []result{
		{Name: "limited", Unit: UnitBytes, Mode: ModeWrite, Limit: 20 * mib, Total: 100 * mib, Achieved: 20.1 * mib,
			Group: active(100 * mib), WorkerRate: 20 * mib},
		{Name: "unlimited", Unit: UnitBytes, Mode: ModeWrite, Total: 8 * 1024 * mib, Achieved: 1640 * mib,
			Group: active(8 * 1024 * mib), WorkerRate: 1600 * mib},
		{Name: "pending", Unit: UnitBytes, Mode: ModeWrite, Achieved: 1,
			Group: throttle.GroupStatus{Phase: throttle.PhasePending, Stats: throttle.Stats{Pending: true}}},
	}
	var out bytes.Buffer
	renderTable(&out, rs)
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want a header and 3 rows:\n%s", len(lines), out.String())
	}
	for _, col := range []string{"volume", "limit", "achieved", "ratio", "IO total", "group phase", "worker rate", "worker total", "cgroups"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header %q lacks %q", lines[0], col)
		}
	}
	want := map[int][]string{
		1: {"limited", "20.0 MiB/s", "20.1 MiB/s", "1.005", "100 MiB", "Active", "pod, pod/writer"},
		2: {"unlimited", "none", "1.60 GiB/s", "-", "8.00 GiB", "1.56 GiB/s"},
		3: {"pending", "Pending"},
	}
	for i, fields := range want {
		for _, f := range fields {
			if !strings.Contains(lines[i], f) {
				t.Errorf("row %q lacks %q", lines[i], f)
			}
		}
	}
	// A group without a sample shows no worker figures (not zeros).
	if f := strings.Fields(strings.SplitN(lines[3], "|", 2)[1]); len(f) != 4 || f[1] != "-" || f[2] != "-" || f[3] != "-" {
		t.Errorf("pending row's worker columns %q, want Pending - - -", f)
	}
	// Columns line up: every row's "|" sits where the header's does.
	at := strings.Index(lines[0], "|")
	for _, l := range lines[1:] {
		if strings.Index(l, "|") != at {
			t.Errorf("misaligned row %q (| at %d, header at %d)", l, strings.Index(l, "|"), at)
		}
	}
}

func TestCgroupNames(t *testing.T) {
	st := throttle.GroupStatus{PodCgroup: "/cg/kubepods/besteffort/podU",
		Cgroups: []string{"/cg", "/cg/kubepods/besteffort/podU", "/cg/kubepods/besteffort/podU/writer"}}
	if got, want := cgroupNames(st), "/cg, pod, pod/writer"; got != want {
		t.Errorf("cgroupNames = %q, want %q", got, want)
	}
	if got := cgroupNames(throttle.GroupStatus{}); got != "-" {
		t.Errorf("no cgroups: %q", got)
	}
}

func TestDiskAllowedCapsEachIntervalAtTheLimit(t *testing.T) {
	const mib = 1 << 20
	rs := []iobench.Report{
		{Elapsed: time.Second, Bytes: 100 * mib},     // far above a 20 MiB/s limit: counts 20
		{Elapsed: 2 * time.Second, Bytes: 110 * mib}, // a slow second: 10 of 20
		{Elapsed: 2 * time.Second, Bytes: 110 * mib, Done: true},
	}
	if got := diskAllowed(rs, UnitBytes, 20*mib); got != 0.75 {
		t.Errorf("diskAllowed = %v, want 0.75 (30 of 40 MiB the limit allowed in 2 s)", got)
	}
	if got := diskAllowed(nil, UnitBytes, 20*mib); got != 1 {
		t.Errorf("diskAllowed without reports = %v, want 1", got)
	}
}
