// Command report turns the JSON report of a conformance run (ginkgo's
// --json-report of e2e.test's storage suites, see hack/conformance.sh) into
// docs/conformance.md: per test suite and pattern what passed, failed and was
// skipped, and every skip with its reason.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.report, "report", "", "ginkgo JSON report (--json-report) of the run")
	flag.StringVar(&o.skips, "skips", "", `the run's skips file ("REGEX ;; REASON" lines)`)
	flag.StringVar(&o.focus, "focus", `External.Storage.*blkio\.csi\.dev`, "the run's --focus: specs outside it are not ours")
	flag.StringVar(&o.e2eVersion, "e2e-version", "", "version of e2e.test, for the document")
	flag.IntVar(&o.procs, "procs", 0, "parallel ginkgo processes of the run, for the document")
	flag.StringVar(&o.out, "out", "", "markdown file to write")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

type options struct {
	report, skips, focus, e2eVersion, out string
	procs                                 int
}

func run(o options) error {
	if o.report == "" || o.skips == "" || o.out == "" {
		return fmt.Errorf("--report, --skips and --out are required")
	}
	rules, err := readSkips(o.skips)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(o.report)
	if err != nil {
		return err
	}
	specs, runTime, err := parseReport(data)
	if err != nil {
		return fmt.Errorf("%s: %w", o.report, err)
	}
	s, err := summarize(specs, o.focus, rules)
	if err != nil {
		return err
	}
	s.E2EVersion, s.Procs, s.RunTime = o.e2eVersion, o.procs, runTime.Round(time.Second)
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	if err := render(f, s); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("report: %d specs ran (%d passed, %d failed), %d skipped; wrote %s\n",
		s.Ran, s.Passed, s.Failed, s.Skipped, o.out)
	return nil
}
