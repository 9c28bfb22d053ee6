package demo

import "time"

// formatLatency renders a latency for the story: "85 us", "1.23 ms".
func formatLatency(d time.Duration) string {
	if d < time.Millisecond {
		return sigfig(float64(d)/float64(time.Microsecond)) + " us"
	}
	return sigfig(float64(d)/float64(time.Millisecond)) + " ms"
}
