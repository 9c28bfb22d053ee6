package params

import "github.com/csi-blkio/csi-blkio/internal/throttle"

// knob is one of the four blk-throttle limits as the parameters name it.
// The per-GiB and burst keys are built from its key, so that every limit
// gets the same family of keys with the same rules.
type knob struct {
	key   string // readBytesPerSecond, ...
	bytes bool   // a quantity of bytes per second, else an IOPS count
	// limit points at the knob's field in a Limits value.
	limit func(*throttle.Limits) *uint64
}

// knobs lists the four limits in a fixed order (the order of messages).
func knobs() []knob {
	return []knob{
		{key: KeyReadBytesPerSecond, bytes: true, limit: func(l *throttle.Limits) *uint64 { return &l.ReadBytesPerSecond }},
		{key: KeyWriteBytesPerSecond, bytes: true, limit: func(l *throttle.Limits) *uint64 { return &l.WriteBytesPerSecond }},
		{key: KeyReadIOPS, limit: func(l *throttle.Limits) *uint64 { return &l.ReadIOPS }},
		{key: KeyWriteIOPS, limit: func(l *throttle.Limits) *uint64 { return &l.WriteIOPS }},
	}
}

// parseRate parses a value of the knob's kind: a quantity of bytes per
// second or an IOPS count.
func (k knob) parseRate(s string) (uint64, error) {
	if k.bytes {
		return parseBytesPerSecond(s)
	}
	return parseIOPS(s)
}

// example is a good value of the knob's kind, for messages.
func (k knob) example() string {
	if k.bytes {
		return "10Mi"
	}
	return "500"
}
