package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"k8s.io/klog/v2"
)

// parseFlags parses a subcommand's command line: the flags add registers
// plus klog's. Bad flags and stray arguments are a usageError; help is
// true after -h (usage was printed).
func parseFlags(name string, args []string, stderr io.Writer, add func(*flag.FlagSet)) (fs *flag.FlagSet, help bool, err error) {
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	add(fs)
	klog.InitFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return fs, true, nil
		}
		return fs, false, usageError{err}
	}
	if fs.NArg() > 0 {
		return fs, false, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return fs, false, nil
}
