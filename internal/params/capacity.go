package params

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Suffixes of the capacity-scaled keys: for a limit L, <L>PerGiB is the
// limit per GiB of the volume's capacity, and <L>Min, <L>Max clamp the
// result. They are how the clouds size a disk's QoS (a gp2-like class reads
// writeIOPSPerGiB "3", writeIOPSMin "100", writeIOPSMax "16000").
const (
	SuffixPerGiB = "PerGiB"
	SuffixMin    = "Min"
	SuffixMax    = "Max"
)

// Scaled is one limit computed from the volume's capacity: PerGiB for every
// GiB (capacity rounded up to whole GiB), then clamped to Min and Max (zero:
// no clamp). The zero value means the limit is not capacity-scaled.
type Scaled struct {
	// PerGiB is the limit per GiB: bytes per second, or IOPS (which may
	// have a fraction: pd-standard-like classes give 0.75 IOPS per GiB).
	PerGiB float64 `json:"perGiB,omitempty"`
	Min    uint64  `json:"min,omitempty"`
	Max    uint64  `json:"max,omitempty"`
}

// Scaling holds the capacity-scaled limits of a volume, by knob.
type Scaling struct {
	ReadBytesPerSecond  Scaled `json:"readBytesPerSecond,omitzero"`
	WriteBytesPerSecond Scaled `json:"writeBytesPerSecond,omitzero"`
	ReadIOPS            Scaled `json:"readIOPS,omitzero"`
	WriteIOPS           Scaled `json:"writeIOPS,omitzero"`
}

func (s *Scaling) of(key string) *Scaled {
	switch key {
	case KeyReadBytesPerSecond:
		return &s.ReadBytesPerSecond
	case KeyWriteBytesPerSecond:
		return &s.WriteBytesPerSecond
	case KeyReadIOPS:
		return &s.ReadIOPS
	}
	return &s.WriteIOPS
}

const gib = 1 << 30

// at is the limit for a volume of capacityBytes.
func (s Scaled) at(capacityBytes int64, maxValue uint64) uint64 {
	gibs := (capacityBytes + gib - 1) / gib
	v := math.Round(float64(gibs) * s.PerGiB)
	out := uint64(max(v, 1))
	if v >= float64(maxValue) {
		out = maxValue
	}
	if s.Min != 0 && out < s.Min {
		out = s.Min
	}
	if s.Max != 0 && out > s.Max {
		out = s.Max
	}
	return out
}

// Baseline is the limits of a volume of capacityBytes: the fixed limits
// with every capacity-scaled one computed for that size. The driver calls
// it on every publish and again when the volume grows.
func (v Volume) Baseline(capacityBytes int64) throttle.Limits {
	l := v.Limits
	for _, k := range knobs() {
		s := *v.Scaling.of(k.key)
		if s.PerGiB == 0 {
			continue
		}
		maxValue := uint64(MaxIOPS)
		if k.bytes {
			maxValue = math.MaxInt64 - 1
		}
		*k.limit(&l) = s.at(capacityBytes, maxValue)
	}
	return l
}

// capacityLimitKeys are the capacity-scaled keys. They change only how fast
// IO may go, so they are limit keys (mutable through a VolumeAttributesClass).
func capacityLimitKeys() []string {
	var keys []string
	for _, k := range knobs() {
		keys = append(keys, k.key+SuffixPerGiB, k.key+SuffixMin, k.key+SuffixMax)
	}
	return keys
}

// capacityFields adds the parsers of the capacity-scaled keys to table.
func capacityFields(table map[string]field) {
	for _, k := range knobs() {
		perGiB := func(s string) (float64, error) { return parsePerGiB(k, s) }
		table[k.key+SuffixPerGiB] = limitField(perGiBExample(k), perGiB, func(v *Volume) *float64 { return &v.Scaling.of(k.key).PerGiB })
		table[k.key+SuffixMin] = limitField(k.example(), k.parseRate, func(v *Volume) *uint64 { return &v.Scaling.of(k.key).Min })
		table[k.key+SuffixMax] = limitField(k.example(), k.parseRate, func(v *Volume) *uint64 { return &v.Scaling.of(k.key).Max })
	}
}

func perGiBExample(k knob) string {
	if k.bytes {
		return "1Mi"
	}
	return "3"
}

// perGiBIOPS is a decimal IOPS count with at most three decimals.
var perGiBIOPS = regexp.MustCompile(`^[0-9]{1,10}(\.[0-9]{1,3})?$`)

// parsePerGiB accepts a positive quantity of bytes per second per GiB, or a
// positive decimal IOPS count per GiB ("3", "0.75").
func parsePerGiB(k knob, s string) (float64, error) {
	if k.bytes {
		v, err := parseBytesPerSecond(s)
		return float64(v), err
	}
	if !perGiBIOPS.MatchString(s) {
		return 0, fmt.Errorf("must be a positive decimal number of IOPS per GiB, at most three decimals")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("must be a positive decimal number of IOPS per GiB; omit the key for no limit")
	}
	return f, nil
}

// checkCapacity enforces the rules between the capacity-scaled keys and the
// fixed limits: <L> and <L>PerGiB exclude each other, <L>Min and <L>Max
// are only meaningful beside <L>PerGiB, and Min may not exceed Max.
func checkCapacity(m map[string]string) error {
	for _, k := range knobs() {
		per, min, max := k.key+SuffixPerGiB, k.key+SuffixMin, k.key+SuffixMax
		_, hasPer := m[per]
		if _, fixed := m[k.key]; fixed && hasPer {
			return &Error{Key: per, Value: m[per], Example: perGiBExample(k),
				Problem: fmt.Sprintf("is refused beside %s=%q: set either a fixed limit (%s) or one per GiB of capacity (%s), not both", k.key, m[k.key], k.key, per)}
		}
		for _, c := range []string{min, max} {
			if _, ok := m[c]; ok && !hasPer {
				return &Error{Key: c, Value: m[c], Example: k.example(),
					Problem: fmt.Sprintf("clamps a per-GiB limit and is valid only beside %s; set %s (for example %q) or remove %s", per, per, perGiBExample(k), c)}
			}
		}
	}
	return nil
}

// checkClamp refuses a Min above its Max (after both parsed).
func checkClamp(m map[string]string, v Volume) error {
	for _, k := range knobs() {
		s := *v.Scaling.of(k.key)
		if s.Min != 0 && s.Max != 0 && s.Min > s.Max {
			max := k.key + SuffixMax
			return &Error{Key: max, Value: m[max], Example: m[k.key+SuffixMin],
				Problem: fmt.Sprintf("is below %s=%q; the maximum must be at least the minimum", k.key+SuffixMin, m[k.key+SuffixMin])}
		}
	}
	return nil
}
