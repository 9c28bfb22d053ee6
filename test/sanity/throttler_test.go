package sanity

import (
	"context"
	"testing"

	"github.com/csi-blkio/csi-blkio/pkg/driver"
	"github.com/csi-blkio/csi-blkio/pkg/throttle"
)

// TEMPORARY until the throttle core lands on main: a recording throttler.
type recorder struct{}

func (recorder) Ensure(context.Context, throttle.Key, throttle.Spec) (throttle.Phase, error) {
	return throttle.PhasePending, nil
}
func (recorder) Update(throttle.Key, throttle.Limits) error { return nil }
func (recorder) Remove(throttle.Key) error                  { return nil }

func newThrottler(t *testing.T) driver.Throttler { return recorder{} }
