package throttle

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

// Captured from this kernel (6.18, v1 blkio) after a 16 MiB direct-IO write.
const v1ServiceBytesSample = `7:0 Read 0
7:0 Write 16777216
7:0 Sync 16777216
7:0 Async 0
7:0 Discard 0
7:0 Total 16777216
7:256 Read 4096
7:256 Write 8192
7:256 Sync 8192
7:256 Async 4096
7:256 Discard 0
7:256 Total 12288
Total 16789504
`

func TestParseV1Stat(t *testing.T) {
	m, err := ParseV1Stat([]byte(v1ServiceBytesSample))
	if err != nil {
		t.Fatal(err)
	}
	if got := m[Device{7, 0}]; got != (V1Stat{Read: 0, Write: 16777216}) {
		t.Errorf("7:0 = %+v", got)
	}
	if got := m[Device{7, 256}]; got != (V1Stat{Read: 4096, Write: 8192}) {
		t.Errorf("7:256 = %+v", got)
	}
	empty, err := ParseV1Stat([]byte("Total 0\n"))
	if err != nil || len(empty) != 0 {
		t.Errorf("a cgroup without IO: %v, %v; want no devices, no error", empty, err)
	}
	for _, bad := range []string{"7:0 Read x\n", "7:0 Read\n", "seven:0 Read 1\n", "Total -1\n", "7:0 Read 1 2\n"} {
		if _, err := ParseV1Stat([]byte(bad)); err == nil {
			t.Errorf("ParseV1Stat(%q) succeeded; want an error", bad)
		}
	}
}

func TestParseIOStat(t *testing.T) {
	// io.stat as a 6.1 kernel prints it, one device with iocost keys too.
	in := "7:0 rbytes=1048576 wbytes=8388608 rios=256 wios=2048 dbytes=0 dios=0\n" +
		"259:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6 cost.vrate=100.00 cost.usage=1 cost.wait=0 cost.indebt=0 cost.indelay=0\n"
	m, err := ParseIOStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m[Device{7, 0}], (Counters{1048576, 8388608, 256, 2048}); got != want {
		t.Errorf("7:0 = %+v, want %+v", got, want)
	}
	if got, want := m[Device{259, 0}], (Counters{1, 2, 3, 4}); got != want {
		t.Errorf("259:0 = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"7:0 rbytes=x\n", "7:0 rbytes\n", "7 rbytes=1\n"} {
		if _, err := ParseIOStat([]byte(bad)); err == nil {
			t.Errorf("ParseIOStat(%q) succeeded; want an error", bad)
		}
	}
}

func TestParseIOMax(t *testing.T) {
	m, err := ParseIOMax([]byte("7:256 rbps=10485760 wbps=max riops=max wiops=500\n8:0 rbps=max wbps=1 riops=2 wiops=max\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m[Device{7, 256}], (Limits{ReadBytesPerSecond: 10485760, WriteIOPS: 500}); got != want {
		t.Errorf("7:256 = %+v, want %+v", got, want)
	}
	if got, want := m[Device{8, 0}], (Limits{WriteBytesPerSecond: 1, ReadIOPS: 2}); got != want {
		t.Errorf("8:0 = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"7:0 rbps=0\n", "7:0 rbps=-1\n", "7:0 rbps\n"} {
		if _, err := ParseIOMax([]byte(bad)); err == nil {
			t.Errorf("ParseIOMax(%q) succeeded; want an error", bad)
		}
	}
}

func TestParseV1Limits(t *testing.T) {
	// The kernel lists the newest rule first.
	m, err := ParseV1Limits([]byte("7:1 200\n7:0 100\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m[Device{7, 0}] != 100 || m[Device{7, 1}] != 200 || len(m) != 2 {
		t.Errorf("got %v", m)
	}
	if _, err := ParseV1Limits([]byte("7:0\n")); err == nil {
		t.Error("a line without a value parsed")
	}
}

// FuzzParseV1Stat checks that what the parser accepts, rendered again in
// the kernel's format, parses to the same counts.
func FuzzParseV1Stat(f *testing.F) {
	f.Add([]byte(v1ServiceBytesSample))
	f.Add([]byte("Total 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseV1Stat(data)
		if err != nil {
			return
		}
		var b strings.Builder
		for dev, s := range m {
			fmt.Fprintf(&b, "%s Read %d\n%s Write %d\n%s Total %d\n", dev, s.Read, dev, s.Write, dev, s.Read+s.Write)
		}
		b.WriteString("Total 0\n")
		back, err := ParseV1Stat([]byte(b.String()))
		if err != nil || !maps.Equal(back, m) {
			t.Fatalf("round trip of %v: %v, %v", m, err, back)
		}
	})
}

func FuzzParseIOStat(f *testing.F) {
	f.Add([]byte("7:0 rbytes=1048576 wbytes=8388608 rios=256 wios=2048 dbytes=0 dios=0\n"))
	f.Add([]byte("259:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6 cost.vrate=100.00\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseIOStat(data) // must not panic
	})
}

// FuzzParseIOMax checks that what the parser accepts renders back to a line
// it parses to the same limits (the table reads back what it wrote).
func FuzzParseIOMax(f *testing.F) {
	f.Add([]byte("7:256 rbps=10485760 wbps=max riops=max wiops=max\n"))
	f.Add([]byte("8:0 rbps=max wbps=1 riops=2 wiops=max\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseIOMax(data)
		if err != nil {
			return
		}
		for dev, l := range m {
			back, err := ParseIOMax([]byte(IOMaxEntry{Device: dev, Limits: l}.String()))
			if err != nil || back[dev] != l {
				t.Fatalf("round trip of %s %+v: %v, %+v", dev, l, err, back[dev])
			}
		}
	})
}

func FuzzParseV1Limits(f *testing.F) {
	f.Add([]byte("7:1 200\n7:0 100\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseV1Limits(data)
		if err != nil {
			return
		}
		for dev, v := range m {
			back, err := ParseV1Limits([]byte(V1Entry{Device: dev, Value: v}.String()))
			if err != nil || back[dev] != v {
				t.Fatalf("round trip of %s %d: %v, %v", dev, v, err, back)
			}
		}
	})
}
