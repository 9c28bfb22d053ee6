package params

import (
	"fmt"
	"strings"
	"time"
)

// Keys of latency protection and work-conserving limits (see
// docs/elastic.md). latencyTarget marks a volume's groups as protected;
// elastic makes a volume's limits hold only while a protected group on the
// same backing disk is active and missing its target.
const (
	KeyLatencyTarget = "latencyTarget"
	KeyElastic       = "elastic"
)

// Bounds of a latency target. Below 100µs no disk a loop device sits on
// answers reliably (and cgroup v2's io.latency works in microseconds);
// above 10s a "target" no longer protects anything interactive.
const (
	MinLatencyTarget = 100 * time.Microsecond
	MaxLatencyTarget = 10 * time.Second
)

// elasticFields are the accepted keys of this file; fields() merges them.
func elasticFields() map[string]field {
	return map[string]field{
		KeyLatencyTarget: {example: "2ms", mutable: true, lift: func(v *Volume) { v.LatencyTarget = 0 }, parse: func(s string, v *Volume) (err error) {
			v.LatencyTarget, err = parseLatencyTarget(s)
			return err
		}},
		KeyElastic: {example: "true", mutable: true, lift: func(v *Volume) { v.Elastic = false }, parse: func(s string, v *Volume) error {
			switch s {
			case "true":
				v.Elastic = true
			case "false":
				v.Elastic = false
			default:
				return fmt.Errorf(`must be "true" or "false"`)
			}
			return nil
		}},
	}
}

// parseLatencyTarget accepts a Go duration with a unit ("2ms", "500us")
// between MinLatencyTarget and MaxLatencyTarget. A bare number is refused:
// "2" could mean seconds or milliseconds.
func parseLatencyTarget(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("must not be empty; omit the key for an unprotected volume")
	}
	if strings.TrimLeft(s, "0123456789.") == "" {
		return 0, fmt.Errorf("needs a unit (ns, us, ms, s)")
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("is not a duration")
	}
	if d < MinLatencyTarget || d > MaxLatencyTarget {
		return 0, fmt.Errorf("must be between %v and %v", MinLatencyTarget, MaxLatencyTarget)
	}
	return d, nil
}

// checkElastic rejects combinations that single keys cannot: an elastic
// volume without a limit has nothing to hold, and a volume cannot both be
// protected and give way to protected ones.
func checkElastic(v Volume, m map[string]string) error {
	if v.Elastic && v.LatencyTarget != 0 {
		return &Error{Key: KeyElastic, Value: m[KeyElastic],
			Problem: fmt.Sprintf("is %q and cannot be set beside %s=%q: a protected volume does not give way to others; drop one of the two keys",
				m[KeyElastic], KeyLatencyTarget, m[KeyLatencyTarget])}
	}
	if v.Elastic && v.Limits.IsUnlimited() {
		return &Error{Key: KeyElastic, Value: m[KeyElastic],
			Problem: fmt.Sprintf("is %q but the volume has no limit; elastic needs a limit to hold while a protected volume needs the disk: set one of %s, %s, %s, %s",
				m[KeyElastic], KeyReadBytesPerSecond, KeyWriteBytesPerSecond, KeyReadIOPS, KeyWriteIOPS)}
	}
	return nil
}
