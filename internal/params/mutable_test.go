package params

import (
	"errors"
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

func TestMutableKeysAreTheLimitKeys(t *testing.T) {
	// Every key except the ones that decide how the volume is made or
	// which cgroups hold its limits: those only change how fast IO may go.
	immutable := map[string]bool{KeyScope: true, KeyFsType: true, KeySize: true}
	mutable := map[string]bool{}
	for _, k := range MutableKeys() {
		mutable[k] = true
	}
	for k := range fields() {
		if mutable[k] == immutable[k] {
			t.Errorf("key %s: mutable %v, want %v", k, mutable[k], !immutable[k])
		}
	}
	for _, k := range []string{KeyWriteIOPS, KeyWriteIOPS + SuffixPerGiB, KeyWriteIOPS + SuffixBurst, KeyBurstSeconds, KeyLatencyTarget, KeyElastic} {
		if !mutable[k] {
			t.Errorf("%s is not mutable", k)
		}
	}
	for k, f := range fields() {
		if f.mutable && f.lift == nil {
			t.Errorf("mutable key %s has no lift: %q could not lift it", k, LiftValue)
		}
	}
}

func TestApplyMutableChangesOnlyNamedKeys(t *testing.T) {
	base := Volume{
		Limits: throttle.Limits{ReadBytesPerSecond: 1 << 20, WriteBytesPerSecond: 2 << 20, ReadIOPS: 100, WriteIOPS: 200},
		Scope:  throttle.ScopeVolume, FsType: FsXFS,
	}
	got, err := ApplyMutable(map[string]string{KeyWriteBytesPerSecond: "50Mi", KeyReadIOPS: LiftValue}, base)
	if err != nil {
		t.Fatal(err)
	}
	want := base
	want.Limits.WriteBytesPerSecond = 50 << 20
	want.Limits.ReadIOPS = 0
	if got != want {
		t.Fatalf("ApplyMutable = %+v, want %+v", got, want)
	}
}

// TestApplyMutableRejects is the bad-input table of a VolumeAttributesClass:
// each mutable key with bad values, an immutable key, an unknown key. The
// volume keeps its old parameters on every refusal.
func TestApplyMutableRejects(t *testing.T) {
	base := Volume{Limits: throttle.Limits{WriteBytesPerSecond: 1 << 20}, Scope: throttle.ScopePod, FsType: FsExt4}
	cases := []struct {
		key, value string
		frags      []string
	}{
		{KeyReadBytesPerSecond, "fast", []string{"not a Kubernetes quantity", `example of a good value: readBytesPerSecond: "10Mi"`}},
		{KeyReadBytesPerSecond, "0", []string{"must be positive", `use "max" to lift the limit`}},
		{KeyWriteBytesPerSecond, "-1Mi", []string{"must be positive"}},
		{KeyWriteBytesPerSecond, "100Ei", []string{"larger than"}},
		{KeyWriteBytesPerSecond, "MAX", []string{"not a Kubernetes quantity"}},
		{KeyReadIOPS, "1k", []string{"positive integer", `example of a good value: readIOPS: "1000"`}},
		{KeyReadIOPS, "0", []string{"positive integer", `use "max" to lift the limit`}},
		{KeyWriteIOPS, "4294967295", []string{"kernel's maximum 4294967294"}},
		{KeyWriteIOPS, "", []string{"positive integer"}},
		{KeyScope, "volume", []string{"cannot change on an existing volume", "StorageClass", "readBytesPerSecond, readBytesPerSecondBurst,"}},
		{KeyFsType, "xfs", []string{"cannot change on an existing volume"}},
		{KeySize, "2Gi", []string{"cannot change on an existing volume"}},
		{"writeBPS", "1Mi", []string{"not a parameter of this driver", "keys a VolumeAttributesClass may set: burstSeconds, elastic, latencyTarget, readBytesPerSecond,"}},
		{"csi.storage.k8s.io/pvc/name", "x", []string{"not a parameter of this driver"}},
	}
	for _, c := range cases {
		t.Run(c.key+"="+c.value, func(t *testing.T) {
			got, err := ApplyMutable(map[string]string{KeyWriteIOPS: "10", c.key: c.value}, base)
			var pe *Error
			if c.key != KeyWriteIOPS && (!errors.As(err, &pe) || pe.Key != c.key) {
				t.Fatalf("ApplyMutable error = %v, want *Error naming %s", err, c.key)
			}
			if err == nil {
				t.Fatal("ApplyMutable accepted bad input")
			}
			if got != base {
				t.Errorf("ApplyMutable returned %+v on error, want the base unchanged", got)
			}
			msg := err.Error()
			if !strings.Contains(msg, `"`+c.key+`"`) {
				t.Errorf("error %q does not name the key", msg)
			}
			for _, f := range c.frags {
				if !strings.Contains(msg, f) {
					t.Errorf("error %q lacks %q", msg, f)
				}
			}
		})
	}
}

// The rules across keys hold for the volume as changed: a class cannot put
// a per-GiB limit beside a fixed one the volume keeps, nor a burst on a
// volume without burstSeconds.
func TestApplyMutableChecksTheChangedVolume(t *testing.T) {
	base := Volume{Limits: throttle.Limits{WriteIOPS: 500}}
	if _, err := ApplyMutable(map[string]string{KeyWriteIOPS + SuffixPerGiB: "3"}, base); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("per-GiB beside the volume's fixed limit: err %v, want refused with \"not both\"", err)
	}
	v, err := ApplyMutable(map[string]string{KeyWriteIOPS + SuffixPerGiB: "3", KeyWriteIOPS: LiftValue}, base)
	if err != nil || v.Limits.WriteIOPS != 0 || v.Scaling.WriteIOPS.PerGiB != 3 {
		t.Errorf("per-GiB with the fixed limit lifted: %+v, %v", v, err)
	}
	if _, err := ApplyMutable(map[string]string{KeyWriteIOPS + SuffixBurst: "3000"}, base); err == nil || !strings.Contains(err.Error(), KeyBurstSeconds) {
		t.Errorf("burst without burstSeconds: err %v, want refused naming %s", err, KeyBurstSeconds)
	}
	if _, err := ApplyMutable(map[string]string{KeyWriteIOPS + SuffixBurst: "3000", KeyBurstSeconds: "30"}, base); err != nil {
		t.Errorf("burst with burstSeconds: %v", err)
	}
}
