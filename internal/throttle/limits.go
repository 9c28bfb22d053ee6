package throttle

import (
	"fmt"
	"strconv"
)

// Limits are the four blk-throttle knobs of a group. Zero means unlimited,
// which is how the kernel's own files read back a limit that is not set
// (v1 drops the line, v2 prints "max").
type Limits struct {
	ReadBytesPerSecond  uint64 `json:"readBytesPerSecond,omitempty"`
	WriteBytesPerSecond uint64 `json:"writeBytesPerSecond,omitempty"`
	ReadIOPS            uint64 `json:"readIOPS,omitempty"`
	WriteIOPS           uint64 `json:"writeIOPS,omitempty"`
}

// IsUnlimited reports whether no knob is set.
func (l Limits) IsUnlimited() bool { return l == Limits{} }

func (l Limits) String() string { return string(l.appendTo(make([]byte, 0, 96))) }

// appendTo appends the limits as io.max's keys to b:
// "rbps=10485760 wbps=max riops=max wiops=max".
func (l Limits) appendTo(b []byte) []byte {
	b = appendMaxOr(append(b, "rbps="...), l.ReadBytesPerSecond)
	b = appendMaxOr(append(b, " wbps="...), l.WriteBytesPerSecond)
	b = appendMaxOr(append(b, " riops="...), l.ReadIOPS)
	return appendMaxOr(append(b, " wiops="...), l.WriteIOPS)
}

// appendMaxOr renders a limit the way cgroup v2 does: "max" for unlimited.
func appendMaxOr(b []byte, v uint64) []byte {
	if v == 0 {
		return append(b, "max"...)
	}
	return strconv.AppendUint(b, v, 10)
}

// Scope says which IO one budget covers; see docs/architecture.md.
type Scope string

const (
	// ScopePod: the limit holds the IO of one pod to the volume (v2: one
	// budget on the pod cgroup; v1: one budget per container cgroup).
	ScopePod Scope = "pod"
	// ScopeVolume: the limit holds all IO to the volume on the node (v2: one
	// budget on the kubepods cgroup; v1: per cgroup plus a root-level entry
	// so that writeback is throttled too).
	ScopeVolume Scope = "volume"
)

// ParseScope accepts the two scope names; the empty string is the default, pod.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case "", ScopePod:
		return ScopePod, nil
	case ScopeVolume:
		return ScopeVolume, nil
	}
	return "", fmt.Errorf("scope %q is not one of %q, %q", s, ScopePod, ScopeVolume)
}
