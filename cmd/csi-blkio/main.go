// Command csi-blkio is the csi-blkio CSI plugin. `csi-blkio serve` (the
// default subcommand) runs the node plugin; further subcommands (demo) are
// registered in commands().
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"k8s.io/klog/v2"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stderr io.Writer) error
	// hidden commands are internal (the demo's IO processes): not in usage.
	hidden bool
}

// commands lists the subcommands; the first argument picks one, and
// anything else (a flag, nothing) means serve.
func commands() map[string]command {
	return map[string]command{
		"serve":       {summary: "run the CSI node plugin (default)", run: runServe},
		"demo":        {summary: "show throttling on this machine: no cluster needed (root)", run: runDemo},
		ioCommandName: {summary: "the demo's IO process", run: runDemoIO, hidden: true},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	klog.Flush()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the exit code: 2 for a usage
// error (bad flags), 1 for a failure while running.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(stderr, "csi-blkio: unknown subcommand %q\n\n", name)
		usage(stderr)
		return 2
	}
	if err := cmd.run(ctx, args, stderr); err != nil {
		if ue := (usageError{}); errors.As(err, &ue) {
			fmt.Fprintf(stderr, "csi-blkio %s: %v\n", name, ue.error)
			return 2
		}
		fmt.Fprintf(stderr, "csi-blkio %s: %v\n", name, err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: csi-blkio [subcommand] [flags]\n\nsubcommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n, c := range cmds {
		if c.hidden {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nrun `csi-blkio <subcommand> -h` for its flags")
}

// usageError marks an error in the command line (exit code 2).
type usageError struct{ error }
