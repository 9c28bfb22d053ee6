package testutil

import (
	"net"
	"testing"
)

// FreeLoopbackAddr returns a loopback host:port that was free a moment ago,
// for a server the test starts in another process or through flags.
func FreeLoopbackAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}
