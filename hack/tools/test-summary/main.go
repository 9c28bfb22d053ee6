// Command test-summary reads `go test -json` on stdin and prints what a
// plain `go test` would, followed by the count of passed, failed and
// skipped tests and every skip with its reason, so that a tier's log shows
// which tests did not run and why:
//
//	go test -json ./... | go run ./hack/tools/test-summary
//
// It exits 1 when a test, a package or a build failed, or when stdin is not
// a go test -json stream; run it under `set -o pipefail` so that go test's
// own exit status counts too.
package main

import (
	"fmt"
	"os"
)

func main() {
	s := newSummary(os.Stdout)
	if err := s.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "test-summary:", err)
	}
	if !s.finish() {
		os.Exit(1)
	}
}
