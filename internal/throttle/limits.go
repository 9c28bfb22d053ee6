package throttle

import "fmt"

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

func (l Limits) String() string {
	return fmt.Sprintf("rbps=%s wbps=%s riops=%s wiops=%s",
		maxOr(l.ReadBytesPerSecond), maxOr(l.WriteBytesPerSecond), maxOr(l.ReadIOPS), maxOr(l.WriteIOPS))
}

// maxOr renders a limit the way cgroup v2 does: "max" for unlimited.
func maxOr(v uint64) string {
	if v == 0 {
		return "max"
	}
	return fmt.Sprint(v)
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
