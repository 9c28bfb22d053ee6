package sanity

import "testing"

func TestSanity(t *testing.T) {
	Run(t, "mount", map[string]string{"writeBytesPerSecond": "100Mi", "readIOPS": "10000"})
}
