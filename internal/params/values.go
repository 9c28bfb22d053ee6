package params

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"
)

// MaxIOPS is the largest IOPS limit the kernel can hold: blk-throttle keeps
// IOPS limits in an unsigned int and reads UINT_MAX as "no limit" (a larger
// v1 value would be silently truncated), so the last usable value is one below.
const MaxIOPS = math.MaxUint32 - 1

// decimalExponent matches the "e<n>"/"E<n>" form of a quantity ("1e3").
// "1E" alone (exa) has no digits after the E and does not match.
var decimalExponent = regexp.MustCompile(`[eE]([+-]?[0-9]+)$`)

// maxExponent bounds a decimal exponent before ParseQuantity sees it: the
// largest value we accept is below 1e19, and ParseQuantity does not return
// in useful time for exponents such as 1E1000000000000 (found by FuzzParse),
// which would let one StorageClass parameter stall a CreateVolume.
const maxExponent = 30

// maxQuantityLen bounds the text of a quantity; the longest useful one
// ("9223372036854775807" plus a suffix) is far shorter.
const maxQuantityLen = 64

// parseQuantity accepts a positive Kubernetes quantity that fits in an int64
// and returns its value rounded up to a whole number.
func parseQuantity(s string) (int64, error) {
	if len(s) > maxQuantityLen {
		return 0, fmt.Errorf("is longer than %d characters", maxQuantityLen)
	}
	if m := decimalExponent.FindStringSubmatch(s); m != nil {
		if e, err := strconv.Atoi(m[1]); err != nil || e > maxExponent || e < -maxExponent {
			return 0, fmt.Errorf("has an exponent outside e-%d..e%d", maxExponent, maxExponent)
		}
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("is not a Kubernetes quantity")
	}
	if q.Sign() <= 0 {
		return 0, fmt.Errorf("must be positive; omit the key for no limit")
	}
	// ParseQuantity silently caps larger values at MaxInt64, so reaching
	// the cap means the value overflowed.
	if q.Cmp(*resource.NewQuantity(math.MaxInt64, resource.BinarySI)) >= 0 {
		return 0, fmt.Errorf("is larger than %d", int64(math.MaxInt64-1))
	}
	return q.Value(), nil
}

func parseBytesPerSecond(s string) (uint64, error) {
	v, err := parseQuantity(s)
	return uint64(v), err
}

func parseSize(s string) (int64, error) {
	v, err := parseQuantity(s)
	if err != nil {
		return 0, err
	}
	if v < 1<<20 {
		return 0, fmt.Errorf("must be at least 1Mi")
	}
	return v, nil
}

// parseIOPS accepts a decimal integer from 1 to MaxIOPS. Quantities such as
// "1k" are refused on purpose: an IOPS count with a suffix reads ambiguously.
func parseIOPS(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		if n, serr := strconv.ParseInt(s, 10, 64); serr == nil && n <= 0 {
			return 0, fmt.Errorf("must be a positive integer; omit the key for no limit")
		}
		return 0, fmt.Errorf("must be a positive integer")
	}
	if v == 0 {
		return 0, fmt.Errorf("must be a positive integer; omit the key for no limit")
	}
	if v > MaxIOPS {
		return 0, fmt.Errorf("is larger than the kernel's maximum %d", uint64(MaxIOPS))
	}
	return v, nil
}
