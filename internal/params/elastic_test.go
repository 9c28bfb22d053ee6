package params

import (
	"testing"
	"time"
)

func TestParseElasticKeys(t *testing.T) {
	cases := []struct {
		in   map[string]string
		want Volume
	}{
		{map[string]string{KeyLatencyTarget: "2ms"}, Volume{LatencyTarget: 2 * time.Millisecond}},
		{map[string]string{KeyLatencyTarget: "500us"}, Volume{LatencyTarget: 500 * time.Microsecond}},
		{map[string]string{KeyLatencyTarget: "10s"}, Volume{LatencyTarget: 10 * time.Second}},
		{map[string]string{KeyElastic: "true", KeyWriteBytesPerSecond: "100Mi"}, Volume{Elastic: true}},
		{map[string]string{KeyElastic: "false"}, Volume{}},
		{map[string]string{KeyElastic: "false", KeyLatencyTarget: "1ms"}, Volume{LatencyTarget: time.Millisecond}},
	}
	for _, c := range cases {
		v, err := Parse(c.in, ModeStorageClass)
		if err != nil {
			t.Errorf("Parse(%v): %v", c.in, err)
			continue
		}
		if v.LatencyTarget != c.want.LatencyTarget || v.Elastic != c.want.Elastic {
			t.Errorf("Parse(%v) = target %v elastic %v, want %v %v", c.in, v.LatencyTarget, v.Elastic, c.want.LatencyTarget, c.want.Elastic)
		}
	}
}

// TestParseElasticRejects: each refusal names the key, the value and what to
// do instead.
func TestParseElasticRejects(t *testing.T) {
	cases := []struct {
		name  string
		in    map[string]string
		key   string
		frags []string
	}{
		{"no unit", map[string]string{KeyLatencyTarget: "2"}, KeyLatencyTarget,
			[]string{`"2"`, "needs a unit", `example of a good value: latencyTarget: "2ms"`}},
		{"not a duration", map[string]string{KeyLatencyTarget: "fast"}, KeyLatencyTarget, []string{`"fast"`, "not a duration"}},
		{"empty", map[string]string{KeyLatencyTarget: ""}, KeyLatencyTarget, []string{"must not be empty"}},
		{"zero", map[string]string{KeyLatencyTarget: "0s"}, KeyLatencyTarget, []string{"between 100µs and 10s"}},
		{"negative", map[string]string{KeyLatencyTarget: "-1ms"}, KeyLatencyTarget, []string{"between 100µs and 10s"}},
		{"too small", map[string]string{KeyLatencyTarget: "50us"}, KeyLatencyTarget, []string{`"50us"`, "between 100µs and 10s"}},
		{"too large", map[string]string{KeyLatencyTarget: "1m"}, KeyLatencyTarget, []string{"between 100µs and 10s"}},
		{"elastic yes", map[string]string{KeyElastic: "yes", KeyWriteIOPS: "10"}, KeyElastic,
			[]string{`"yes"`, `must be "true" or "false"`, `example of a good value: elastic: "true"`}},
		{"elastic True", map[string]string{KeyElastic: "True", KeyWriteIOPS: "10"}, KeyElastic, []string{`must be "true" or "false"`}},
		{"elastic without limits", map[string]string{KeyElastic: "true"}, KeyElastic,
			[]string{`"true"`, "needs a limit", "writeBytesPerSecond"}},
		{"protected and elastic", map[string]string{KeyElastic: "true", KeyLatencyTarget: "2ms", KeyWriteIOPS: "10"}, KeyElastic,
			[]string{`latencyTarget="2ms"`, "drop one of the two keys"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkRefused(t, c.in, ModeStorageClass, c.key, c.frags) })
	}
}
