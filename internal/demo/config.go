package demo

import (
	"errors"
	"flag"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/params"
)

// Config is the demo's command line.
type Config struct {
	// Scenario picks the story to tell (see scenarios()).
	Scenario string
	// Limit of the limited volume, a Kubernetes quantity: bytes per second
	// with Unit bytes, IO operations per second with Unit iops. Empty means
	// the unit's default (20Mi, or 500 IOPS). In the neighbour scenario it
	// is the write limit of the aggressor's throttled volume.
	Limit string
	// Size of each volume, a Kubernetes quantity.
	Size string
	// Duration of the IO.
	Duration time.Duration
	// Mode: read or write.
	Mode Mode
	// Unit: bytes (sequential 1 MiB direct IO) or iops (4 KiB random).
	Unit Unit
}

// Defaults of the limit per unit.
const (
	DefaultBytesLimit = "20Mi"
	DefaultIOPSLimit  = "500"
)

// The ratio band the limited volume must land in for the demo to pass.
const (
	MinRatio = 0.9
	MaxRatio = 1.1
)

// DefaultConfig is the flag defaults.
func DefaultConfig() Config {
	return Config{Scenario: "throttle", Size: "1Gi", Duration: 5 * time.Second, Mode: ModeWrite, Unit: UnitBytes}
}

// AddFlags registers c's fields on fs with c's values as defaults.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Scenario, "scenario", c.Scenario, "what to show: "+scenarioNames())
	fs.StringVar(&c.Limit, "limit", c.Limit, "limit of the limited volume (neighbour: the aggressor's write limit), a quantity: bytes/s with --unit bytes (default "+DefaultBytesLimit+"), IOPS with --unit iops (default "+DefaultIOPSLimit+")")
	fs.StringVar(&c.Size, "size", c.Size, "size of each volume, a quantity")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long the IO runs (neighbour: each of its five phases)")
	fs.Func("mode", `"write" or "read" (default "write")`, func(s string) error {
		switch Mode(s) {
		case ModeWrite, ModeRead:
			c.Mode = Mode(s)
			return nil
		}
		return fmt.Errorf("%q is not read or write", s)
	})
	fs.Func("unit", `"bytes" (1 MiB sequential direct IO, limit in bytes/s) or "iops" (4 KiB random direct IO, limit in IOPS) (default "bytes")`, func(s string) error {
		switch Unit(s) {
		case UnitBytes, UnitIOPS:
			c.Unit = Unit(s)
			return nil
		}
		return fmt.Errorf("%q is not bytes or iops", s)
	})
}

// settings is a validated Config turned into what the demo does.
type settings struct {
	Config
	// params are the limited volume's StorageClass parameters.
	params map[string]string
	// limit is the limit in the unit: bytes/s or IOPS.
	limit float64
	// size of each volume in bytes.
	size int64
	// block is the size of one IO; fileSize the file the IO goes to (the
	// IO wraps around in it, so that the volume never fills up).
	block, fileSize int64
}

// minSize keeps room for the filesystem and a useful IO file.
const minSize = 64 << 20

// Validate checks c, naming the flag of every problem. Limits and sizes are
// parsed by internal/params, the same code that parses StorageClass parameters,
// so the demo accepts exactly what a StorageClass accepts.
func (c Config) Validate() error {
	_, err := c.resolve()
	return err
}

func (c Config) resolve() (settings, error) {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	s := settings{Config: c}
	if _, ok := findScenario(c.Scenario); !ok {
		bad("scenario", "%q is not one of %s", c.Scenario, scenarioNames())
	}
	if c.Scenario == "neighbour" && (c.Unit != UnitBytes || c.Mode != ModeWrite) {
		bad("scenario", "neighbour limits the aggressor's writes in bytes/s (--limit); it takes no --unit or --mode")
	}
	key, def := c.limitKey()
	if c.Limit == "" {
		s.Limit = def
	}
	s.params = map[string]string{key: s.Limit}
	if v, err := params.Parse(s.params, params.ModeStorageClass); err != nil {
		bad("limit", "%s", problem(err))
	} else {
		l := v.Limits
		s.limit = float64(l.ReadBytesPerSecond + l.WriteBytesPerSecond + l.ReadIOPS + l.WriteIOPS)
	}
	if v, err := params.Parse(map[string]string{params.KeySize: c.Size}, params.ModeInline); err != nil {
		bad("size", "%s", problem(err))
	} else if v.Size < minSize {
		bad("size", "%q is smaller than the demo's minimum of 64Mi", c.Size)
	} else {
		s.size = v.Size
	}
	if c.Duration < time.Second || c.Duration > 10*time.Minute {
		bad("duration", "%s is outside 1s..10m", c.Duration)
	}
	if err := errors.Join(errs...); err != nil {
		return settings{}, err
	}
	s.block = blockSize(c.Unit, s.limit)
	s.fileSize = min(s.size/4, 128<<20) / s.block * s.block
	return s, nil
}

// limitKey is the StorageClass parameter the limit goes into, and the
// default limit, for the mode and unit.
func (c Config) limitKey() (key, def string) {
	switch {
	case c.Unit == UnitIOPS && c.Mode == ModeRead:
		return params.KeyReadIOPS, DefaultIOPSLimit
	case c.Unit == UnitIOPS:
		return params.KeyWriteIOPS, DefaultIOPSLimit
	case c.Mode == ModeRead:
		return params.KeyReadBytesPerSecond, DefaultBytesLimit
	}
	return params.KeyWriteBytesPerSecond, DefaultBytesLimit
}

// blockSize is 4 KiB for IOPS. For bytes it is the power of two nearest
// below a sixteenth of the limit, between 4 KiB and 1 MiB: large enough to
// be sequential IO, small enough that even a low limit passes several IOs
// a second, so the live rate moves smoothly.
func blockSize(u Unit, limit float64) int64 {
	const lo, hi = 4 << 10, 1 << 20
	if u == UnitIOPS {
		return lo
	}
	b := uint64(limit / 16)
	if b < lo {
		return lo
	}
	if b >= hi {
		return hi
	}
	return int64(1) << (63 - bits.LeadingZeros64(b))
}

// problem is a params error without the parameter's key, which means
// nothing to someone who typed a flag.
func problem(err error) string {
	var pe *params.Error
	if errors.As(err, &pe) {
		msg := fmt.Sprintf("%q %s", pe.Value, pe.Problem)
		if pe.Example != "" {
			msg += fmt.Sprintf(" (for example %s)", pe.Example)
		}
		return strings.TrimSpace(msg)
	}
	return err.Error()
}
