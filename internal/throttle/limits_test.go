package throttle

import "testing"

func TestLimitsStringIsIoMaxSyntax(t *testing.T) {
	got := Limits{ReadBytesPerSecond: 10485760, WriteIOPS: 500}.String()
	want := "rbps=10485760 wbps=max riops=max wiops=500"
	if got != want {
		t.Fatalf("Limits.String() = %q, want %q", got, want)
	}
}

func TestParseScope(t *testing.T) {
	for in, want := range map[string]Scope{"": ScopePod, "pod": ScopePod, "volume": ScopeVolume} {
		got, err := ParseScope(in)
		if err != nil || got != want {
			t.Errorf("ParseScope(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseScope("node"); err == nil {
		t.Error("ParseScope(\"node\") succeeded; want an error naming the accepted scopes")
	}
}
