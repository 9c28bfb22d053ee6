package throttle

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// The parsers below read the cgroup files the kernel prints. They are
// strict about the parts we use (a malformed number is an error, never a
// silent zero, so a stats read that goes wrong is retried and surfaced) and
// lenient about additions the kernel may make later (unknown io.stat or
// io.max keys, unknown v1 operations).

// ParseDevice reads "MAJ:MIN".
func ParseDevice(s string) (Device, error) {
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return Device{}, fmt.Errorf("device %q is not MAJ:MIN", s)
	}
	ma, err := strconv.ParseUint(maj, 10, 32)
	if err != nil {
		return Device{}, fmt.Errorf("device %q: major: %w", s, err)
	}
	mi, err := strconv.ParseUint(min, 10, 32)
	if err != nil {
		return Device{}, fmt.Errorf("device %q: minor: %w", s, err)
	}
	return Device{Major: uint32(ma), Minor: uint32(mi)}, nil
}

// readDeviceEntry reads the cgroup file name and returns what parse makes
// of dev's line in it: the zero value when the file has none (no limit on
// the device, or no IO counted for it yet).
func readDeviceEntry[V any](fsys FS, name string, dev Device, parse func([]byte) (map[Device]V, error)) (V, error) {
	var zero V
	data, err := fsys.ReadFile(name)
	if err != nil {
		return zero, err
	}
	m, err := parse(data)
	if err != nil {
		return zero, fmt.Errorf("parse %s: %w", name, err)
	}
	return m[dev], nil
}

// readDeviceEntries is readDeviceEntry for files of one directory, read
// through one descriptor of it (FS.ReadFiles): out[i] is what parse makes
// of dev's line in dir/names[i].
func readDeviceEntries[V any](fsys FS, dir string, names []string, dev Device, parse func([]byte) (map[Device]V, error), out []V) error {
	data, err := fsys.ReadFiles(dir, names)
	if err != nil {
		return err
	}
	for i, d := range data {
		m, err := parse(d)
		if err != nil {
			return fmt.Errorf("parse %s/%s: %w", dir, names[i], err)
		}
		out[i] = m[dev]
	}
	return nil
}

// eachLine calls fn with the fields of every non-empty line. It cuts the
// lines itself rather than through a bufio.Scanner, whose 4 KiB buffer was
// allocated for every file of every group on every sweep.
func eachLine(data []byte, fn func(fields []string) error) error {
	for n := 1; len(data) > 0; n++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			continue
		}
		if err := fn(fields); err != nil {
			return fmt.Errorf("line %d %q: %w", n, strings.TrimSpace(string(line)), err)
		}
	}
	return nil
}

// ParseV1Limits reads a v1 limit file (blkio.throttle.*_device): one
// "MAJ:MIN VALUE" line per device with a rule; a device without a line is
// unlimited.
func ParseV1Limits(data []byte) (map[Device]uint64, error) {
	out := map[Device]uint64{}
	err := eachLine(data, func(f []string) error {
		if len(f) != 2 {
			return fmt.Errorf("want \"MAJ:MIN VALUE\"")
		}
		dev, v, err := parseV1Line(f[0], f[1])
		if err != nil {
			return err
		}
		out[dev] = v
		return nil
	})
	return out, err
}

// parseV1Line reads the two parts of a v1 line that every v1 file has:
// the device first and a decimal count or limit last.
func parseV1Line(device, value string) (Device, uint64, error) {
	dev, err := ParseDevice(device)
	if err != nil {
		return Device{}, 0, err
	}
	v, err := strconv.ParseUint(value, 10, 64)
	return dev, v, err
}

// parseMaxOr reads a v2 limit value: "max" is unlimited (0).
func parseMaxOr(s string) (uint64, error) {
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if v == 0 {
		// The kernel never prints 0 (it refuses a zero limit); reading one
		// means the file is not what we think it is.
		return 0, fmt.Errorf("limit 0 is not a kernel value")
	}
	return v, nil
}

// eachKeyedLine parses v2 lines "MAJ:MIN key=value ...": for each line it
// asks fields for the destinations of the keys it wants (others are
// skipped: the kernel adds keys with other controllers) and fills them
// with conv.
func eachKeyedLine(data []byte, conv func(string) (uint64, error), line func(dev Device) map[string]*uint64) error {
	return eachLine(data, func(f []string) error {
		dev, err := ParseDevice(f[0])
		if err != nil {
			return err
		}
		dst := line(dev)
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("field %q is not key=value", kv)
			}
			if p := dst[k]; p != nil {
				if *p, err = conv(v); err != nil {
					return fmt.Errorf("%s: %w", k, err)
				}
			}
		}
		return nil
	})
}

// ParseIOMax reads a cgroup v2 io.max file:
// "7:256 rbps=10485760 wbps=max riops=max wiops=max" per limited device.
func ParseIOMax(data []byte) (map[Device]Limits, error) {
	out := map[Device]*Limits{}
	err := eachKeyedLine(data, parseMaxOr, func(dev Device) map[string]*uint64 {
		l := &Limits{}
		out[dev] = l
		return map[string]*uint64{"rbps": &l.ReadBytesPerSecond, "wbps": &l.WriteBytesPerSecond, "riops": &l.ReadIOPS, "wiops": &l.WriteIOPS}
	})
	return deref(out), err
}

func deref[V any](m map[Device]*V) map[Device]V {
	out := make(map[Device]V, len(m))
	for k, v := range m {
		out[k] = *v
	}
	return out
}

// Counters are a cgroup's cumulative IO counts for one device.
type Counters struct {
	ReadBytes  uint64
	WriteBytes uint64
	ReadIOs    uint64
	WriteIOs   uint64
}

// V1Stat is what a v1 io_service_bytes or io_serviced file says about one
// device: the Read and Write operations (Sync/Async/Discard/Total repeat
// them in other cuts and are not needed).
type V1Stat struct {
	Read  uint64
	Write uint64
}

// ParseV1Stat reads a v1 blkio.throttle.io_service_bytes(_recursive) or
// io_serviced(_recursive) file:
//
//	7:0 Read 0
//	7:0 Write 16777216
//	7:0 Sync 16777216
//	7:0 Async 0
//	7:0 Discard 0
//	7:0 Total 16777216
//	Total 16777216
//
// A cgroup that has done no IO prints only "Total 0".
func ParseV1Stat(data []byte) (map[Device]V1Stat, error) {
	out := map[Device]V1Stat{}
	err := eachLine(data, func(f []string) error {
		if len(f) == 2 && f[0] == "Total" {
			_, err := strconv.ParseUint(f[1], 10, 64)
			return err
		}
		if len(f) != 3 {
			return fmt.Errorf("want \"MAJ:MIN OP VALUE\" or \"Total VALUE\"")
		}
		dev, v, err := parseV1Line(f[0], f[2])
		if err != nil {
			return err
		}
		s := out[dev]
		switch f[1] {
		case "Read":
			s.Read = v
		case "Write":
			s.Write = v
		}
		out[dev] = s
		return nil
	})
	return out, err
}

// ParseIOStat reads a cgroup v2 io.stat file:
// "7:0 rbytes=1048576 wbytes=0 rios=256 wios=0 dbytes=0 dios=0" per device.
// Keys the kernel adds with other controllers (cost.*, io.latency's
// depth/avg_lat, ...) are skipped.
func ParseIOStat(data []byte) (map[Device]Counters, error) {
	out := map[Device]*Counters{}
	err := eachKeyedLine(data, func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }, func(dev Device) map[string]*uint64 {
		c := &Counters{}
		out[dev] = c
		return map[string]*uint64{"rbytes": &c.ReadBytes, "wbytes": &c.WriteBytes, "rios": &c.ReadIOs, "wios": &c.WriteIOs}
	})
	return deref(out), err
}
