package params

import (
	"fmt"
	"strconv"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// Burst keys: for a limit L, <L>Burst is the rate the volume may burst to
// above its baseline (L, or L computed per GiB), paid from a credit bucket
// that burstSeconds sizes: a full bucket sustains the burst rate that long.
const (
	SuffixBurst     = "Burst"
	KeyBurstSeconds = "burstSeconds"
)

// MaxBurstSeconds bounds burstSeconds: a day is far past the clouds'
// longest full-bucket burst (about half an hour) and keeps the bucket's
// arithmetic far from overflow.
const MaxBurstSeconds = 86400

// Burst is a volume's burst configuration; the zero value is no burst.
type Burst struct {
	// Rates are the burst rates of the knobs that have one (zero: none).
	Rates throttle.Limits `json:"rates,omitzero"`
	// Seconds is how long a full bucket sustains the burst rate.
	Seconds uint64 `json:"seconds,omitempty"`
}

// IsZero reports whether the volume has no burst.
func (b Burst) IsZero() bool { return b.Rates.IsUnlimited() }

// burstLimitKeys are the burst keys. They change only how fast IO may go,
// so they are limit keys (mutable through a VolumeAttributesClass).
func burstLimitKeys() []string {
	keys := []string{KeyBurstSeconds}
	for _, k := range knobs() {
		keys = append(keys, k.key+SuffixBurst)
	}
	return keys
}

// burstFields adds the parsers of the burst keys to table.
func burstFields(table map[string]field) {
	for _, k := range knobs() {
		table[k.key+SuffixBurst] = limitField(burstExample(k), k.parseRate, func(v *Volume) *uint64 { return k.limit(&v.Burst.Rates) })
	}
	table[KeyBurstSeconds] = field{example: "30", mutable: true, lift: func(v *Volume) { v.Burst.Seconds = 0 }, parse: func(s string, v *Volume) error {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("must be a whole number of seconds from 1 to %d", MaxBurstSeconds)
		}
		if n > MaxBurstSeconds {
			return fmt.Errorf("is more than %d (a day)", MaxBurstSeconds)
		}
		v.Burst.Seconds = n
		return nil
	}}
}

func burstExample(k knob) string {
	if k.bytes {
		return "100Mi"
	}
	return "3000"
}

// checkBurst enforces the rules of the burst keys once every key parsed:
// a burst needs a baseline to burst above (<L> or <L>PerGiB) and
// burstSeconds to size its bucket; burstSeconds needs a burst; and the
// burst rate must be above every baseline the volume can have (a fixed
// <L>, or <L>Min when the baseline is per GiB).
func checkBurst(m map[string]string, v Volume) error {
	any := false
	for _, k := range knobs() {
		key := k.key + SuffixBurst
		rate := *k.limit(&v.Burst.Rates)
		if rate == 0 {
			continue
		}
		any = true
		base := *k.limit(&v.Limits)
		scaled := v.Scaling.of(k.key)
		switch {
		case base == 0 && scaled.PerGiB == 0:
			return &Error{Key: key, Value: m[key], Example: burstExample(k),
				Problem: fmt.Sprintf("needs a baseline to burst above: set %s or %s beside it", k.key, k.key+SuffixPerGiB)}
		case base != 0 && rate <= base:
			return &Error{Key: key, Value: m[key], Example: burstExample(k),
				Problem: fmt.Sprintf("must be above the baseline %s=%q", k.key, m[k.key])}
		case scaled.Min != 0 && rate <= scaled.Min:
			return &Error{Key: key, Value: m[key], Example: burstExample(k),
				Problem: fmt.Sprintf("must be above the smallest baseline %s=%q", k.key+SuffixMin, m[k.key+SuffixMin])}
		case v.Burst.Seconds == 0:
			return &Error{Key: key, Value: m[key], Example: burstExample(k),
				Problem: fmt.Sprintf("needs %s beside it: how long a full credit bucket sustains the burst (for example %q)", KeyBurstSeconds, "30")}
		}
	}
	if !any && v.Burst.Seconds != 0 {
		return &Error{Key: KeyBurstSeconds, Value: m[KeyBurstSeconds], Example: "30",
			Problem: "sizes a burst bucket and needs a burst beside it: set <limit>Burst, for example writeBytesPerSecondBurst"}
	}
	return nil
}
