// Package sample is what test-summary's test runs `go test -json` on: one
// test of each ending, so that the summary is checked against the real
// stream of the go command on this machine, not a hand-written one.
package sample

import "testing"

func TestPasses(t *testing.T) { t.Log("quiet unless it fails") }

func TestFails(t *testing.T) { t.Error("the failure's own message") }

func TestSkips(t *testing.T) { t.Skip("needs something this machine lacks") }

func TestSubtests(t *testing.T) {
	t.Run("runs", func(t *testing.T) {})
	t.Run("skips", func(t *testing.T) {
		t.Log("looked for it")
		t.Skipf("no %s here", "widget")
	})
}
