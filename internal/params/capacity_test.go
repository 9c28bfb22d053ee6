package params

import (
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

func TestBaselinePerGiB(t *testing.T) {
	const g = int64(1) << 30
	cases := []struct {
		name     string
		in       map[string]string
		capacity int64
		want     throttle.Limits
	}{
		{"4 GiB at 25 IOPS per GiB", map[string]string{"writeIOPSPerGiB": "25"}, 4 * g, throttle.Limits{WriteIOPS: 100}},
		{"a partial GiB counts whole", map[string]string{"writeIOPSPerGiB": "25"}, 4*g + 1, throttle.Limits{WriteIOPS: 125}},
		{"gp2 floor", map[string]string{"writeIOPSPerGiB": "3", "writeIOPSMin": "100", "writeIOPSMax": "16000"}, 10 * g, throttle.Limits{WriteIOPS: 100}},
		{"gp2 middle", map[string]string{"writeIOPSPerGiB": "3", "writeIOPSMin": "100", "writeIOPSMax": "16000"}, 1000 * g, throttle.Limits{WriteIOPS: 3000}},
		{"gp2 ceiling", map[string]string{"writeIOPSPerGiB": "3", "writeIOPSMin": "100", "writeIOPSMax": "16000"}, 16384 * g, throttle.Limits{WriteIOPS: 16000}},
		{"fractional IOPS per GiB", map[string]string{"readIOPSPerGiB": "0.75"}, 200 * g, throttle.Limits{ReadIOPS: 150}},
		{"tiny volume gets at least 1", map[string]string{"readIOPSPerGiB": "0.001"}, 1 << 20, throttle.Limits{ReadIOPS: 1}},
		{"bytes per GiB beside a fixed knob", map[string]string{"readBytesPerSecondPerGiB": "1Mi", "writeIOPS": "50"}, 3 * g,
			throttle.Limits{ReadBytesPerSecond: 3 << 20, WriteIOPS: 50}},
		{"bytes clamped up", map[string]string{"writeBytesPerSecondPerGiB": "1Mi", "writeBytesPerSecondMin": "8Mi"}, 2 * g,
			throttle.Limits{WriteBytesPerSecond: 8 << 20}},
		{"IOPS capped at the kernel's maximum", map[string]string{"writeIOPSPerGiB": "9999999999"}, 1000 * g, throttle.Limits{WriteIOPS: MaxIOPS}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := Parse(c.in, ModeStorageClass)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Baseline(c.capacity); got != c.want {
				t.Errorf("Baseline(%d) = %v, want %v", c.capacity, got, c.want)
			}
		})
	}
}

func TestCapacityAndBurstRejects(t *testing.T) {
	cases := []struct {
		name  string
		in    map[string]string
		key   string
		frags []string
	}{
		{"fixed and per GiB together", map[string]string{"writeIOPS": "100", "writeIOPSPerGiB": "3"}, "writeIOPSPerGiB",
			[]string{`"3"`, `refused beside writeIOPS="100"`, "not both", `example of a good value: writeIOPSPerGiB: "3"`}},
		{"min without per GiB", map[string]string{"writeIOPSMin": "100"}, "writeIOPSMin",
			[]string{"valid only beside writeIOPSPerGiB", `example of a good value: writeIOPSMin: "500"`}},
		{"max beside a fixed limit", map[string]string{"readBytesPerSecond": "1Mi", "readBytesPerSecondMax": "10Mi"}, "readBytesPerSecondMax",
			[]string{"valid only beside readBytesPerSecondPerGiB"}},
		{"min above max", map[string]string{"writeIOPSPerGiB": "3", "writeIOPSMin": "500", "writeIOPSMax": "100"}, "writeIOPSMax",
			[]string{`"100"`, `below writeIOPSMin="500"`}},
		{"bad per GiB IOPS", map[string]string{"writeIOPSPerGiB": "three"}, "writeIOPSPerGiB",
			[]string{`"three"`, "decimal number of IOPS per GiB"}},
		{"zero per GiB IOPS", map[string]string{"writeIOPSPerGiB": "0"}, "writeIOPSPerGiB", []string{"positive decimal"}},
		{"too many decimals", map[string]string{"readIOPSPerGiB": "0.0001"}, "readIOPSPerGiB", []string{"at most three decimals"}},
		{"bad per GiB bytes", map[string]string{"readBytesPerSecondPerGiB": "fast"}, "readBytesPerSecondPerGiB",
			[]string{"not a Kubernetes quantity", `readBytesPerSecondPerGiB: "1Mi"`}},
		{"burst without baseline", map[string]string{"writeBytesPerSecondBurst": "40Mi", "burstSeconds": "5"}, "writeBytesPerSecondBurst",
			[]string{`"40Mi"`, "needs a baseline", "writeBytesPerSecond or writeBytesPerSecondPerGiB"}},
		{"burst not above baseline", map[string]string{"writeBytesPerSecond": "40Mi", "writeBytesPerSecondBurst": "40Mi", "burstSeconds": "5"},
			"writeBytesPerSecondBurst", []string{`above the baseline writeBytesPerSecond="40Mi"`, `writeBytesPerSecondBurst: "100Mi"`}},
		{"burst not above min", map[string]string{"writeIOPSPerGiB": "3", "writeIOPSMin": "3000", "writeIOPSBurst": "3000", "burstSeconds": "60"},
			"writeIOPSBurst", []string{`smallest baseline writeIOPSMin="3000"`}},
		{"burst without seconds", map[string]string{"readIOPS": "100", "readIOPSBurst": "1000"}, "readIOPSBurst",
			[]string{"needs burstSeconds"}},
		{"seconds without burst", map[string]string{"readIOPS": "100", "burstSeconds": "30"}, "burstSeconds",
			[]string{`"30"`, "needs a burst beside it"}},
		{"zero seconds", map[string]string{"burstSeconds": "0"}, "burstSeconds", []string{"whole number of seconds", `burstSeconds: "30"`}},
		{"seconds with unit", map[string]string{"burstSeconds": "30s"}, "burstSeconds", []string{"whole number of seconds"}},
		{"seconds past a day", map[string]string{"burstSeconds": "86401"}, "burstSeconds", []string{"more than 86400"}},
		{"IOPS burst with suffix", map[string]string{"readIOPS": "100", "readIOPSBurst": "1k", "burstSeconds": "5"}, "readIOPSBurst",
			[]string{"positive integer", `readIOPSBurst: "3000"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkRefused(t, c.in, ModeStorageClass, c.key, c.frags) })
	}
}

func TestBurstParses(t *testing.T) {
	v, err := Parse(map[string]string{
		"writeBytesPerSecond": "8Mi", "writeBytesPerSecondBurst": "40Mi",
		"readIOPSPerGiB": "3", "readIOPSBurst": "3000", "burstSeconds": "5",
	}, ModeStorageClass)
	if err != nil {
		t.Fatal(err)
	}
	want := Burst{Rates: throttle.Limits{WriteBytesPerSecond: 40 << 20, ReadIOPS: 3000}, Seconds: 5}
	if v.Burst != want {
		t.Errorf("Burst = %+v, want %+v", v.Burst, want)
	}
}

func TestLimitKeysAreAccepted(t *testing.T) {
	accepted := map[string]bool{}
	for _, k := range AcceptedKeys(ModeStorageClass) {
		accepted[k] = true
	}
	for _, k := range append(capacityLimitKeys(), burstLimitKeys()...) {
		if !accepted[k] {
			t.Errorf("limit key %q is not accepted by Parse", k)
		}
	}
	if n := len(capacityLimitKeys()) + len(burstLimitKeys()); n != 17 {
		t.Errorf("%d capacity and burst keys, want 17 (3 and 1 per limit, plus burstSeconds)", n)
	}
}
