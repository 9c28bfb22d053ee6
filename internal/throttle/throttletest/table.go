package throttletest

import (
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// NewTable builds a throttle table from o, fails tb if that is refused, and
// closes the table when tb ends, so that its watches and goroutines do not
// outlive the test.
func NewTable(tb testing.TB, o throttle.Options) *throttle.Table {
	tb.Helper()
	table, err := throttle.NewTable(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { table.Close() })
	return table
}
