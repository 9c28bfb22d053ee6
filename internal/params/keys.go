package params

import (
	"fmt"
	"sort"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// field is one accepted key: how to parse it into a Volume and where it may
// appear. The table below is the only list of keys; CreateVolume, an inline
// publish, a ThrottleGroup edit and a VolumeAttributesClass change all read
// it, so a key added here is validated the same way everywhere.
type field struct {
	example string
	inline  bool // accepted only in ModeInline
	// mutable marks a key that may change on a live volume: it only says
	// how fast IO may go, so changing it is a new throttle setting, not a
	// new volume. These are the keys a VolumeAttributesClass may carry
	// (ControllerModifyVolume's mutable_parameters). A mutable key must
	// also set lift.
	mutable bool
	// lift sets the knob back to "no limit": what the value LiftValue means
	// in mutable parameters, where leaving a key out means "keep it".
	lift  func(v *Volume)
	parse func(value string, v *Volume) error
}

// LiftValue in mutable parameters lifts the limit (the kernel's own word for
// "no limit" in io.max). It is needed because a VolumeAttributesClass change
// only touches the keys it names: a class that should run unlimited says so
// with this value.
const LiftValue = "max"

// limitField is the entry of a key that sets one number of a limit (the
// limit itself, its burst rate, its capacity scaling): mutable, lifted to 0
// (unlimited, or no scaling), parsed by parse into the number at points at.
func limitField[N uint64 | float64](example string, parse func(string) (N, error), at func(v *Volume) *N) field {
	return field{example: example, mutable: true,
		lift: func(v *Volume) { *at(v) = 0 },
		parse: func(s string, v *Volume) (err error) {
			*at(v), err = parse(s)
			return err
		}}
}

// fields is the table of accepted keys. A function (not a package variable)
// keeps the package free of mutable globals.
func fields() map[string]field {
	table := map[string]field{
		KeyReadBytesPerSecond:  limitField("10Mi", parseBytesPerSecond, func(v *Volume) *uint64 { return &v.Limits.ReadBytesPerSecond }),
		KeyWriteBytesPerSecond: limitField("10Mi", parseBytesPerSecond, func(v *Volume) *uint64 { return &v.Limits.WriteBytesPerSecond }),
		KeyReadIOPS:            limitField("1000", parseIOPS, func(v *Volume) *uint64 { return &v.Limits.ReadIOPS }),
		KeyWriteIOPS:           limitField("500", parseIOPS, func(v *Volume) *uint64 { return &v.Limits.WriteIOPS }),
		KeyScope: {example: string(throttle.ScopePod), parse: func(s string, v *Volume) error {
			if s == "" {
				return fmt.Errorf("must not be empty; omit the key for the default %q", throttle.ScopePod)
			}
			sc, err := throttle.ParseScope(s)
			if err != nil {
				return fmt.Errorf("must be %q or %q", throttle.ScopePod, throttle.ScopeVolume)
			}
			v.Scope = sc
			return nil
		}},
		KeyFsType: {example: FsExt4, parse: func(s string, v *Volume) error {
			switch s {
			case FsExt4, FsXFS:
				v.FsType = s
				return nil
			}
			return fmt.Errorf("must be %q or %q", FsExt4, FsXFS)
		}},
		KeySize: {example: "1Gi", inline: true, parse: func(s string, v *Volume) (err error) {
			v.Size, err = parseSize(s)
			return err
		}},
	}
	capacityFields(table)
	burstFields(table)
	for k, f := range elasticFields() {
		table[k] = f
	}
	return table
}

// MutableKeys lists the keys a live volume may change (the mutable
// parameters of a VolumeAttributesClass), sorted.
func MutableKeys() []string {
	var keys []string
	for k, f := range fields() {
		if f.mutable {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
