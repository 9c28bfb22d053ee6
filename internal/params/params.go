// Package params turns StorageClass parameters and inline volumeAttributes
// into a typed, validated Volume. It is the single place that knows the
// parameter keys, so that CreateVolume, an inline publish and (later) a live
// limit edit reject the same bad input with the same message.
package params

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// The keys a user may set. Keys under ReservedPrefix belong to Kubernetes
// (pod info, PV/PVC names, the ephemeral marker) and are ignored unless
// listed here.
const (
	KeyReadBytesPerSecond  = "readBytesPerSecond"
	KeyWriteBytesPerSecond = "writeBytesPerSecond"
	KeyReadIOPS            = "readIOPS"
	KeyWriteIOPS           = "writeIOPS"
	KeyScope               = "scope"
	KeyFsType              = "csi.storage.k8s.io/fstype"
	KeySize                = "size"

	ReservedPrefix = "csi.storage.k8s.io/"
)

// Filesystems the driver formats. ext4 is the default because it is what
// every node already has (e2fsprogs) and it formats fastest.
const (
	FsExt4 = "ext4"
	FsXFS  = "xfs"
)

// DefaultInlineSize is the size of an inline ephemeral volume that does not
// set `size` (1 GiB, the README's parameter table).
const DefaultInlineSize int64 = 1 << 30

// Mode says where the parameters came from; `size` is only accepted inline
// because a PVC carries its size in the capacity range.
type Mode int

const (
	// ModeStorageClass: CreateVolume parameters from a StorageClass.
	ModeStorageClass Mode = iota
	// ModeInline: volumeAttributes of a CSI ephemeral inline volume.
	ModeInline
)

// Volume is the validated meaning of a parameter map.
type Volume struct {
	Limits throttle.Limits `json:"limits"`
	Scope  throttle.Scope  `json:"scope"`
	FsType string          `json:"fsType"`
	// Size is the requested size in bytes of an inline volume; zero for
	// StorageClass parameters.
	Size int64 `json:"size,omitempty"`
	// Scaling holds the limits computed from the capacity (<L>PerGiB);
	// Baseline combines them with Limits.
	Scaling Scaling `json:"scaling,omitzero"`
	// Burst is the burst rates and bucket size (<L>Burst, burstSeconds).
	Burst Burst `json:"burst,omitzero"`
	// LatencyTarget, when set, marks the volume's groups as protected: the
	// elastic controller holds elastic neighbours on the same backing disk
	// while a protected group is active and its disk misses this target.
	LatencyTarget time.Duration `json:"latencyTarget,omitempty"`
	// Elastic makes Limits work-conserving: held only while a protected
	// group needs the disk, lifted otherwise.
	Elastic bool `json:"elastic,omitempty"`
}

// Error is a rejected parameter. Its message names the key, the value and an
// example of a good value, so that the user can fix the StorageClass without
// reading code. The driver returns it as InvalidArgument.
type Error struct {
	Key     string
	Value   string
	Problem string
	Example string
}

func (e *Error) Error() string {
	if e.Example == "" {
		return fmt.Sprintf("parameter %q: %s", e.Key, e.Problem)
	}
	return fmt.Sprintf("parameter %q=%q: %s (example of a good value: %s: %q)", e.Key, e.Value, e.Problem, e.Key, e.Example)
}

// AcceptedKeys lists the keys Parse accepts in mode, sorted.
func AcceptedKeys(mode Mode) []string {
	var keys []string
	for k, f := range fields() {
		if f.inline && mode != ModeInline {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Parse validates m and returns its meaning with defaults filled in. The
// first problem found (in sorted key order, so the message is stable) is
// returned as *Error.
func Parse(m map[string]string, mode Mode) (Volume, error) {
	v := Volume{Scope: throttle.ScopePod, FsType: FsExt4}
	if mode == ModeInline {
		v.Size = DefaultInlineSize
	}
	table := fields()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := table[k]
		if ok && f.inline && mode != ModeInline {
			return Volume{}, &Error{Key: k, Value: m[k],
				Problem: "is only for inline ephemeral volumes; a PVC sets its size with spec.resources.requests.storage"}
		}
		if !ok {
			if strings.HasPrefix(k, ReservedPrefix) {
				continue
			}
			return Volume{}, &Error{Key: k, Value: m[k],
				Problem: "is not a parameter of this driver; accepted keys: " + strings.Join(AcceptedKeys(mode), ", ")}
		}
		if err := f.parse(m[k], &v); err != nil {
			return Volume{}, &Error{Key: k, Value: m[k], Problem: err.Error(), Example: f.example}
		}
	}
	if err := checkCapacity(m); err != nil {
		return Volume{}, err
	}
	if err := checkClamp(m, v); err != nil {
		return Volume{}, err
	}
	if err := checkBurst(m, v); err != nil {
		return Volume{}, err
	}
	if err := checkElastic(v, m); err != nil {
		return Volume{}, err
	}
	return v, nil
}
