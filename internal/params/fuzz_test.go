package params

import (
	"errors"
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// FuzzParse feeds arbitrary keys and values through Parse. Whatever the input,
// Parse must not panic, must fail only with *Error naming an input key, and
// must return values the kernel can take.
func FuzzParse(f *testing.F) {
	for _, seed := range [][2]string{
		{"readBytesPerSecond", "10Mi"}, {"writeBytesPerSecond", "500k"}, {"writeBytesPerSecond", "1.5Gi"},
		{"readIOPS", "1000"}, {"writeIOPS", "-1"}, {"writeIOPS", "99999999999999999999"},
		{"scope", "volume"}, {"scope", "pod"}, {"csi.storage.k8s.io/fstype", "xfs"}, {"size", "1Gi"},
		{"size", "9Ei"}, {"readBytesPerSecond", "1e3"}, {"../../etc", "\x00"}, {"csi.storage.k8s.io/x", "y"},
		{"readBytesPerSecond", strings.Repeat("9", 4096)},
		{"writeIOPSPerGiB", "3"}, {"readIOPSPerGiB", "0.75"}, {"readBytesPerSecondPerGiB", "1Mi"},
		{"writeIOPSPerGiB", "9999999999.999"}, {"burstSeconds", "30"}, {"writeIOPSBurst", "3000"}, {"writeIOPSMin", "1"},
		{"latencyTarget", "2ms"}, {"latencyTarget", "1e9h"}, {"latencyTarget", ".5ms"}, {"elastic", "true"},
	} {
		f.Add(seed[0], seed[1], false)
		f.Add(seed[0], seed[1], true)
	}
	f.Fuzz(func(t *testing.T, key, value string, inline bool) {
		mode := ModeStorageClass
		if inline {
			mode = ModeInline
		}
		v, err := Parse(map[string]string{key: value}, mode)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Key != key {
				t.Fatalf("Parse(%q=%q) error %v is not a *Error for that key", key, value, err)
			}
			return
		}
		if v.Scope != throttle.ScopePod && v.Scope != throttle.ScopeVolume {
			t.Fatalf("scope %q", v.Scope)
		}
		if v.FsType != FsExt4 && v.FsType != FsXFS {
			t.Fatalf("fstype %q", v.FsType)
		}
		if v.Limits.ReadIOPS > MaxIOPS || v.Limits.WriteIOPS > MaxIOPS {
			t.Fatalf("IOPS beyond the kernel maximum: %+v", v.Limits)
		}
		for _, capacity := range []int64{0, 1, 1 << 30, 1<<62 + 1} {
			if l := v.Baseline(capacity); l.ReadIOPS > MaxIOPS || l.WriteIOPS > MaxIOPS {
				t.Fatalf("per-GiB IOPS beyond the kernel maximum at %d bytes: %+v", capacity, l)
			}
		}
		if v.LatencyTarget != 0 && (v.LatencyTarget < MinLatencyTarget || v.LatencyTarget > MaxLatencyTarget) {
			t.Fatalf("latency target %v outside the bounds", v.LatencyTarget)
		}
		if v.Elastic && v.Limits.IsUnlimited() {
			t.Fatalf("elastic without a limit: %+v", v)
		}
		if v.Size < 0 || (mode == ModeStorageClass && v.Size != 0) {
			t.Fatalf("size %d in mode %d", v.Size, mode)
		}
	})
}
