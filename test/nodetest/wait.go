package nodetest

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// slowWait is how long a wait may take before Poll logs it: slow waits are
// where a stage's time goes, and the log says which.
const slowWait = 3 * time.Second

// Context returns a context bounded by d and cancelled when t ends.
func Context(t testing.TB, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// Poll calls cond every interval until it returns true or d passes, then
// fails t with what and cond's last error. cond's error does not end the
// wait (an object may not exist yet): it only says, at the end, why the
// condition never held.
func Poll(t testing.TB, interval, d time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	var last error
	start := time.Now()
	defer func() {
		if w := time.Since(start); w > slowWait {
			t.Logf("waited %.1f s for %s", w.Seconds(), what)
		}
	}()
	err := wait.PollUntilContextTimeout(context.Background(), interval, d, true, func(c context.Context) (bool, error) {
		ok, err := cond(c)
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s (last error: %v)", what, d, last)
	}
}
