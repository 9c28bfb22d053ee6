package demo

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestCloseUndoesNewestFirstAndGoesOnPastFailures: cleanup runs every step
// in reverse order of creation, also after a step failed, with a context
// that is not the (possibly cancelled) run's, and reports the failures.
func TestCloseUndoesNewestFirstAndGoesOnPastFailures(t *testing.T) {
	var out bytes.Buffer
	s := &Session{deps: Deps{Out: &out}}
	var order []string
	step := func(name string, err error) {
		s.onClose(name, func(ctx context.Context) error {
			if ctx.Err() != nil {
				t.Errorf("%s: cleanup context already done", name)
			}
			order = append(order, name)
			return err
		})
	}
	step("temp dir", nil)
	step("volume", errors.New("busy"))
	step("cgroup", nil)
	err := s.close()
	if got := strings.Join(order, ","); got != "cgroup,volume,temp dir" {
		t.Errorf("order %s, want newest first", got)
	}
	if err == nil || !strings.Contains(err.Error(), "cleanup: volume: busy") {
		t.Errorf("close() = %v; want the failed step named", err)
	}
	if !strings.Contains(out.String(), "FAILED for 1 of 3 steps") {
		t.Errorf("output %q does not report the failure", out.String())
	}
	order = nil
	if err := s.close(); err != nil || len(order) != 0 {
		t.Errorf("a second close ran %v, %v; want nothing", order, err)
	}
}
