package e2e

import (
	"fmt"
	"os"
	"testing"
)

// cluster is the installed node every test uses; TestMain sets it once
// before any test runs (nil without a node: every test then skips).
var cluster *suite

// skipReason says why cluster is nil.
var skipReason string

func TestMain(m *testing.M) {
	cfg, missing := configFromEnv()
	switch {
	case len(missing) == len(allEnv):
		skipReason = "needs a real node with csi-blkio's images: run hack/e2e.sh as root"
		os.Exit(m.Run())
	case len(missing) > 0:
		skipReason = fmt.Sprintf("needs a real node with csi-blkio's images, but %v are unset: run hack/e2e.sh as root", missing)
		os.Exit(m.Run())
	}
	s, err := setUp(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e set-up failed: %v\n", err)
		if s != nil {
			s.tearDown()
		}
		os.Exit(1)
	}
	cluster = s
	code := m.Run()
	s.tearDown()
	os.Exit(code)
}

// node returns the installed node, or skips t when there is none.
func node(t *testing.T) *suite {
	t.Helper()
	if cluster == nil {
		t.Skip(skipReason)
	}
	return cluster
}
