package params

import (
	"sort"
	"strings"
)

// ApplyMutable returns base changed by the mutable parameters m: the
// mutable_parameters of ControllerModifyVolume (a VolumeAttributesClass) or
// of CreateVolume. Only the keys m names change; LiftValue ("max") lifts a
// limit. A key that is not mutable, an unknown key or a bad value is
// refused as *Error, and base is never half changed: the caller keeps its
// old limits. Values are checked exactly as in a StorageClass.
func ApplyMutable(m map[string]string, base Volume) (Volume, error) {
	table := fields()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	v := base
	for _, k := range keys {
		value := m[k]
		f, known := table[k]
		switch {
		case known && !f.mutable:
			return base, &Error{Key: k, Value: value,
				Problem: "cannot change on an existing volume (it decides how the volume is made or throttled, not how fast); " +
					"set it in the StorageClass of a new volume. Keys a VolumeAttributesClass may set: " + strings.Join(MutableKeys(), ", ")}
		case !known:
			return base, &Error{Key: k, Value: value,
				Problem: "is not a parameter of this driver; keys a VolumeAttributesClass may set: " + strings.Join(MutableKeys(), ", ")}
		case value == LiftValue:
			f.lift(&v)
		default:
			if err := f.parse(value, &v); err != nil {
				problem := strings.Replace(err.Error(), "omit the key for no limit", `use "`+LiftValue+`" to lift the limit`, 1)
				return base, &Error{Key: k, Value: value, Problem: problem, Example: f.example}
			}
		}
	}
	return v, nil
}
