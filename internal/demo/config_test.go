package demo

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultsResolveToTheDocumentedDemo(t *testing.T) {
	s, err := DefaultConfig().resolve()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"writeBytesPerSecond": "20Mi"}; !reflect.DeepEqual(s.params, want) {
		t.Errorf("params %v, want %v", s.params, want)
	}
	if s.limit != 20*mib || s.size != 1<<30 || s.block != 1<<20 || s.fileSize != 128<<20 || s.Duration != 5*time.Second {
		t.Errorf("limit %v size %d block %d file %d duration %s", s.limit, s.size, s.block, s.fileSize, s.Duration)
	}
}

func TestFlagsPickTheParameter(t *testing.T) {
	for _, c := range []struct {
		args  []string
		key   string
		limit float64
		block int64
	}{
		{[]string{"--mode=read"}, "readBytesPerSecond", 20 * mib, 1 << 20},
		{[]string{"--unit=iops"}, "writeIOPS", 500, 4096},
		{[]string{"--unit=iops", "--mode=read", "--limit=200"}, "readIOPS", 200, 4096},
		{[]string{"--limit=1Mi"}, "writeBytesPerSecond", mib, 64 << 10},
		{[]string{"--limit=10k"}, "writeBytesPerSecond", 10000, 4096},
	} {
		c0 := DefaultConfig()
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		c0.AddFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		s, err := c0.resolve()
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if _, ok := s.params[c.key]; !ok || len(s.params) != 1 || s.limit != c.limit || s.block != c.block {
			t.Errorf("%v: params %v limit %v block %d; want %s, %v, %d", c.args, s.params, s.limit, s.block, c.key, c.limit, c.block)
		}
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		set  func(*Config)
		flag string
		says string
	}{
		{func(c *Config) { c.Limit = "fast" }, "--limit", "not a Kubernetes quantity"},
		{func(c *Config) { c.Limit = "-5Mi" }, "--limit", "positive"},
		{func(c *Config) { c.Unit, c.Limit = UnitIOPS, "1k" }, "--limit", "positive integer"},
		{func(c *Config) { c.Size = "1Mi" }, "--size", "minimum of 64Mi"},
		{func(c *Config) { c.Size = "big" }, "--size", "quantity"},
		{func(c *Config) { c.Duration = 0 }, "--duration", "outside 1s..10m"},
		{func(c *Config) { c.Scenario = "nope" }, "--scenario", "throttle"},
		{func(c *Config) { c.Scenario, c.Unit = "neighbour", UnitIOPS }, "--scenario", "no --unit or --mode"},
		{func(c *Config) { c.Scenario, c.Mode = "neighbour", ModeRead }, "--scenario", "no --unit or --mode"},
	} {
		cfg := DefaultConfig()
		c.set(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.flag+":") || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Validate() = %v; want an error naming %s and saying %q", err, c.flag, c.says)
		}
	}
}

func TestModeAndUnitFlagsRefuseOtherValues(t *testing.T) {
	for _, args := range [][]string{{"--mode=append"}, {"--unit=kb"}} {
		c := DefaultConfig()
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.AddFlags(fs)
		if err := fs.Parse(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
