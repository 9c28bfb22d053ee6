package throttle

import "testing"

func TestV1EntryStringIsKernelSyntax(t *testing.T) {
	dev := Device{Major: 7, Minor: 256}
	if got, want := (V1Entry{Device: dev, Value: 10485760}).String(), "7:256 10485760"; got != want {
		t.Fatalf("V1Entry.String() = %q, want %q", got, want)
	}
	es := V1Entries(dev, Limits{WriteBytesPerSecond: 8 << 20, ReadIOPS: 100})
	want := [4]string{"7:256 0", "7:256 8388608", "7:256 100", "7:256 0"}
	for i, e := range es {
		if e.String() != want[i] {
			t.Errorf("entry for %s = %q, want %q", V1Knobs[i], e, want[i])
		}
	}
}

func TestIOMaxEntryStringIsKernelSyntax(t *testing.T) {
	e := IOMaxEntry{Device: Device{Major: 7, Minor: 256}, Limits: Limits{ReadBytesPerSecond: 10485760}}
	if got, want := e.String(), "7:256 rbps=10485760 wbps=max riops=max wiops=max"; got != want {
		t.Fatalf("IOMaxEntry.String() = %q, want %q", got, want)
	}
	clear := IOMaxEntry{Device: Device{Major: 259, Minor: 3}}
	if got, want := clear.String(), "259:3 rbps=max wbps=max riops=max wiops=max"; got != want {
		t.Fatalf("clearing IOMaxEntry.String() = %q, want %q", got, want)
	}
}
