package params

import (
	"fmt"
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
	// The rules across keys hold for the volume as changed, not only for
	// the keys the class names: a class that sets writeIOPSPerGiB on a
	// volume with a fixed writeIOPS must lift the fixed one (writeIOPS:
	// "max") in the same class.
	set := keysSet(v, m)
	for _, check := range []func() error{
		func() error { return checkCapacity(set) },
		func() error { return checkClamp(set, v) },
		func() error { return checkBurst(set, v) },
		func() error { return checkElastic(v, set) },
	} {
		if err := check(); err != nil {
			return base, err
		}
	}
	return v, nil
}

// keysSet is the key map a StorageClass would need to make v: every key
// whose value is set, with the value m gave it or, for a key m left out, the
// volume's own value.
func keysSet(v Volume, m map[string]string) map[string]string {
	set := map[string]string{}
	put := func(key string, isSet bool, value any) {
		if !isSet {
			return
		}
		if s, ok := m[key]; ok && s != LiftValue {
			set[key] = s
			return
		}
		set[key] = fmt.Sprint(value)
	}
	for _, k := range knobs() {
		fixed, burst, scaled := *k.limit(&v.Limits), *k.limit(&v.Burst.Rates), *v.Scaling.of(k.key)
		put(k.key, fixed != 0, fixed)
		put(k.key+SuffixBurst, burst != 0, burst)
		put(k.key+SuffixPerGiB, scaled.PerGiB != 0, scaled.PerGiB)
		put(k.key+SuffixMin, scaled.Min != 0, scaled.Min)
		put(k.key+SuffixMax, scaled.Max != 0, scaled.Max)
	}
	put(KeyBurstSeconds, v.Burst.Seconds != 0, v.Burst.Seconds)
	put(KeyLatencyTarget, v.LatencyTarget != 0, v.LatencyTarget)
	put(KeyElastic, v.Elastic, v.Elastic)
	return set
}
