package testutil

import (
	"testing"
	"time"
)

// Eventually calls cond until it reports true, and fails t after timeout
// with what and the last detail cond gave. It polls every timeout/1000,
// between 1 ms and 100 ms: fast enough to time a kernel limit landing
// (milliseconds), light enough for an apiserver round trip.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, detail string)) {
	t.Helper()
	interval := min(max(timeout/1000, time.Millisecond), 100*time.Millisecond)
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if detail != "" {
				t.Fatalf("%s: not within %s; last: %s", what, timeout, detail)
			}
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(interval)
	}
}
