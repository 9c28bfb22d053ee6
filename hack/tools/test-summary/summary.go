package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail
}

// skip is a test that skipped, with what it said when it did.
type skip struct{ pkg, test, reason string }

// summary turns a `go test -json` stream back into what a plain `go test`
// prints — a line per package, the whole output of every failed test,
// build errors — and counts and lists the skipped tests with their reasons,
// which a plain `go test` does not show at all.
type summary struct {
	out     io.Writer
	pending map[string][]string // output of running tests, by package and test
	skips   []skip
	passed  int
	failed  int
	broken  bool // a package or a build failed
}

func newSummary(out io.Writer) *summary {
	return &summary{out: out, pending: map[string][]string{}}
}

// read consumes the stream; a line that is not an event (go test's own
// complaints on a broken command line) is printed as it came.
func (s *summary) read(in io.Reader) error {
	dec := json.NewDecoder(in)
	for {
		var e event
		err := dec.Decode(&e)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			rest, _ := io.ReadAll(io.MultiReader(dec.Buffered(), in))
			fmt.Fprintf(s.out, "%s", rest)
			s.broken = true
			return fmt.Errorf("not a go test -json stream: %w", err)
		}
		s.add(e)
	}
}

func (s *summary) add(e event) {
	key := e.Package + " " + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.out, e.Output)
	case e.Action == "build-fail":
		s.broken = true
	case e.Test == "":
		s.addPackage(e)
	case e.Action == "output":
		s.pending[key] = append(s.pending[key], e.Output)
	case e.Action == "pass":
		s.passed++
		delete(s.pending, key)
	case e.Action == "fail":
		s.failed++
		fmt.Fprint(s.out, strings.Join(s.pending[key], ""))
		delete(s.pending, key)
	case e.Action == "skip":
		s.skips = append(s.skips, skip{e.Package, e.Test, skipReason(s.pending[key])})
		delete(s.pending, key)
	}
}

// addPackage prints a package's own lines as a plain go test does: its
// verdict ("ok", "FAIL", "? ... [no test files]") and anything printed
// outside a test, but not the bare "PASS" that only -v shows.
func (s *summary) addPackage(e event) {
	switch e.Action {
	case "output":
		if e.Output != "PASS\n" {
			fmt.Fprint(s.out, e.Output)
		}
	case "fail":
		s.broken = true
		s.flushUnfinished(e.Package)
	}
}

// flushUnfinished prints the output of pkg's tests that never ended — a
// test that hung until the -timeout panic, or a crash of the test binary —
// so that what they said before it is not lost.
func (s *summary) flushUnfinished(pkg string) {
	var keys []string
	for k := range s.pending {
		if strings.HasPrefix(k, pkg+" ") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprint(s.out, strings.Join(s.pending[k], ""))
		delete(s.pending, k)
	}
}

// skipReason is what a skipped test logged, without go test's framing
// lines; t.Skip's message is the last of it.
func skipReason(lines []string) string {
	var said []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		said = append(said, t)
	}
	if len(said) == 0 {
		return "(no reason given)"
	}
	return strings.Join(said, " / ")
}

// finish prints the counts and the skips, and says whether everything passed.
func (s *summary) finish() (ok bool) {
	sort.Slice(s.skips, func(i, j int) bool {
		a, b := s.skips[i], s.skips[j]
		if a.pkg != b.pkg {
			return a.pkg < b.pkg
		}
		return a.test < b.test
	})
	fmt.Fprintf(s.out, "tests: %d passed, %d failed, %d skipped\n", s.passed, s.failed, len(s.skips))
	for _, k := range s.skips {
		fmt.Fprintf(s.out, "    skipped: %s %s: %s\n", k.pkg, k.test, k.reason)
	}
	return s.failed == 0 && !s.broken
}
