package main

import (
	"os"
	"testing"
)

// runMainEnv makes this test binary behave as the csi-blkio binary (main
// with the given arguments), so that tests can run the command as a real
// process (exit codes, signals, another user) and the demo can re-execute
// it for its IO processes, as it re-executes csi-blkio.
const runMainEnv = "CSI_BLKIO_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}
