package iobench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// ioChildEnv makes this test binary act as the IO process, as csi-blkio
// re-executes itself as `csi-blkio demo-io` in the demo.
const ioChildEnv = "CSI_BLKIO_IOBENCH_TEST_IO"

func TestMain(m *testing.M) {
	if os.Getenv(ioChildEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		err := RunIO(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
