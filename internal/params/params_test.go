package params

import (
	"errors"
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

func TestParseDefaults(t *testing.T) {
	v, err := Parse(nil, ModeStorageClass)
	if err != nil {
		t.Fatal(err)
	}
	want := Volume{Scope: throttle.ScopePod, FsType: FsExt4}
	if v != want {
		t.Fatalf("Parse(nil) = %+v, want %+v", v, want)
	}
	v, err = Parse(nil, ModeInline)
	if err != nil {
		t.Fatal(err)
	}
	if v.Size != DefaultInlineSize {
		t.Fatalf("inline default size = %d, want %d", v.Size, DefaultInlineSize)
	}
}

func TestParseAll(t *testing.T) {
	v, err := Parse(map[string]string{
		KeyReadBytesPerSecond:          "50Mi",
		KeyWriteBytesPerSecond:         "500k",
		KeyReadIOPS:                    "1000",
		KeyWriteIOPS:                   "500",
		KeyScope:                       "volume",
		KeyFsType:                      "xfs",
		KeySize:                        "2Gi",
		"csi.storage.k8s.io/pod.uid":   "abc",
		"csi.storage.k8s.io/ephemeral": "true",
	}, ModeInline)
	if err != nil {
		t.Fatal(err)
	}
	want := Volume{
		Limits: throttle.Limits{ReadBytesPerSecond: 50 << 20, WriteBytesPerSecond: 500000, ReadIOPS: 1000, WriteIOPS: 500},
		Scope:  throttle.ScopeVolume, FsType: FsXFS, Size: 2 << 30,
	}
	if v != want {
		t.Fatalf("Parse = %+v, want %+v", v, want)
	}
}

// TestParseRejects checks that every rejection names the key, the value and
// (for a bad value) an example of a good one.
func TestParseRejects(t *testing.T) {
	cases := []struct {
		name  string
		in    map[string]string
		mode  Mode
		key   string
		frags []string
	}{
		{"unknown key", map[string]string{"writeBPS": "1Mi"}, ModeStorageClass, "writeBPS",
			[]string{`"writeBPS"`, "not a parameter", "accepted keys: burstSeconds, csi.storage.k8s.io/fstype, elastic, latencyTarget, readBytesPerSecond, readBytesPerSecondBurst, readBytesPerSecondMax, readBytesPerSecondMin, readBytesPerSecondPerGiB, readIOPS, ", "scope, writeBytesPerSecond, "}},
		{"size outside inline", map[string]string{"size": "1Gi"}, ModeStorageClass, "size", []string{"only for inline"}},
		{"bad quantity", map[string]string{"readBytesPerSecond": "ten megs"}, ModeStorageClass, "readBytesPerSecond",
			[]string{`"ten megs"`, "not a Kubernetes quantity", `example of a good value: readBytesPerSecond: "10Mi"`}},
		{"negative quantity", map[string]string{"writeBytesPerSecond": "-1Mi"}, ModeStorageClass, "writeBytesPerSecond", []string{"must be positive"}},
		{"zero quantity", map[string]string{"writeBytesPerSecond": "0"}, ModeStorageClass, "writeBytesPerSecond", []string{"must be positive"}},
		{"overflowing quantity", map[string]string{"writeBytesPerSecond": "100Ei"}, ModeStorageClass, "writeBytesPerSecond", []string{"larger than"}},
		{"huge decimal exponent", map[string]string{"readBytesPerSecond": "1E1000000000000"}, ModeStorageClass, "readBytesPerSecond", []string{"exponent outside"}},
		{"tiny decimal exponent", map[string]string{"size": "1e-99999999999"}, ModeInline, "size", []string{"exponent outside"}},
		{"negative IOPS", map[string]string{"readIOPS": "-5"}, ModeStorageClass, "readIOPS", []string{`"-5"`, "positive integer", `example of a good value: readIOPS: "1000"`}},
		{"zero IOPS", map[string]string{"writeIOPS": "0"}, ModeStorageClass, "writeIOPS", []string{"positive integer"}},
		{"IOPS with suffix", map[string]string{"writeIOPS": "1k"}, ModeStorageClass, "writeIOPS", []string{"positive integer"}},
		{"IOPS beyond kernel", map[string]string{"writeIOPS": "4294967295"}, ModeStorageClass, "writeIOPS", []string{"kernel's maximum 4294967294"}},
		{"bad scope", map[string]string{"scope": "node"}, ModeStorageClass, "scope", []string{`"node"`, `"pod" or "volume"`}},
		{"empty scope", map[string]string{"scope": ""}, ModeStorageClass, "scope", []string{"must not be empty"}},
		{"bad fstype", map[string]string{"csi.storage.k8s.io/fstype": "btrfs"}, ModeStorageClass, "csi.storage.k8s.io/fstype", []string{`"ext4" or "xfs"`}},
		{"tiny size", map[string]string{"size": "1k"}, ModeInline, "size", []string{"at least 1Mi"}},
		{"inline unknown lists size", map[string]string{"foo": "1"}, ModeInline, "foo", []string{"size"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkRefused(t, c.in, c.mode, c.key, c.frags) })
	}
}

// TestParseStableFirstError: with several bad keys the reported one does not
// depend on map iteration order.
func TestParseStableFirstError(t *testing.T) {
	in := map[string]string{"zzz": "1", "aaa": "1", "readIOPS": "x"}
	for range 20 {
		_, err := Parse(in, ModeStorageClass)
		var pe *Error
		if !errors.As(err, &pe) || pe.Key != "aaa" {
			t.Fatalf("Parse error = %v, want the first key in sorted order (aaa)", err)
		}
	}
}

// checkRefused asserts that Parse refuses in with a *params.Error that names
// key and whose message holds every fragment of frags.
func checkRefused(t *testing.T, in map[string]string, mode Mode, key string, frags []string) {
	t.Helper()
	_, err := Parse(in, mode)
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("Parse(%v) error = %v, want *params.Error", in, err)
	}
	if pe.Key != key {
		t.Errorf("error key = %q, want %q (%v)", pe.Key, key, err)
	}
	for _, f := range frags {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q lacks %q", err, f)
		}
	}
}
