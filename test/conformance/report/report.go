package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// spec is the part of a ginkgo SpecReport the document needs.
type spec struct {
	ContainerHierarchyTexts []string
	LeafNodeType            string
	LeafNodeText            string
	State                   string
	RunTime                 time.Duration
	Failure                 struct{ Message string }
}

func (s spec) text() string {
	return strings.TrimSpace(strings.Join(append(append([]string{}, s.ContainerHierarchyTexts...), s.LeafNodeText), " "))
}

// parseReport reads ginkgo's JSON report: a list of suite reports.
func parseReport(data []byte) ([]spec, time.Duration, error) {
	var suites []struct {
		RunTime     time.Duration
		SpecReports []spec
	}
	if err := json.Unmarshal(data, &suites); err != nil {
		return nil, 0, err
	}
	if len(suites) == 0 {
		return nil, 0, fmt.Errorf("no suite in the report")
	}
	var all []spec
	var rt time.Duration
	for _, s := range suites {
		all = append(all, s.SpecReports...)
		rt += s.RunTime
	}
	return all, rt, nil
}

// skipRule is one line of the skips file: specs matching re are not run,
// for reason.
type skipRule struct {
	re     *regexp.Regexp
	reason string
}

func readSkips(path string) ([]skipRule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rules []skipRule
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		re, reason, ok := strings.Cut(line, " ;; ")
		if !ok || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: want \"REGEX ;; REASON\", got %q", path, n, line)
		}
		r, err := regexp.Compile(re)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		rules = append(rules, skipRule{re: r, reason: strings.TrimSpace(reason)})
	}
	return rules, sc.Err()
}

// group is one test suite under one test pattern.
type group struct {
	Suite, Pattern          string
	Passed, Failed, Skipped int
}

// reason is one cause of skips and the specs it skipped.
type reason struct {
	Text  string
	Specs []string
}

type failure struct{ Spec, Message string }

// summary is what the document shows.
type summary struct {
	E2EVersion string
	Procs      int
	RunTime    time.Duration

	InScope, Ran, Passed, Failed, Skipped int
	Groups                                []group
	Reasons                               []reason
	Failures                              []failure
}

// patternRE finds the test pattern and the suite in a spec's text, e.g.
// "[Testpattern: Dynamic PV (default fs)] provisioning".
var patternRE = regexp.MustCompile(`\[Testpattern: ([^\]]*)\] (\S+)`)

// summarize counts the specs under focus by suite and pattern and sorts
// the skipped ones by reason: the skips-file rule that removed them before
// the run, or the message the suite skipped them with at run time.
func summarize(specs []spec, focus string, rules []skipRule) (*summary, error) {
	focusRE, err := regexp.Compile(focus)
	if err != nil {
		return nil, fmt.Errorf("--focus: %w", err)
	}
	s := &summary{}
	groups := map[[2]string]*group{}
	reasons := map[string][]string{}
	for _, sp := range specs {
		text := sp.text()
		if sp.LeafNodeType != "It" {
			// Suite set-up and tear-down: only their failures matter.
			if isFailure(sp.State) {
				s.Failures = append(s.Failures, failure{Spec: sp.LeafNodeType + " " + text, Message: sp.Failure.Message})
				s.Failed++
			}
			continue
		}
		if !focusRE.MatchString(text) {
			continue
		}
		s.InScope++
		suite, pattern := "(other)", "(none)"
		if m := patternRE.FindStringSubmatch(text); m != nil {
			pattern, suite = m[1], m[2]
		}
		k := [2]string{suite, pattern}
		g := groups[k]
		if g == nil {
			g = &group{Suite: suite, Pattern: pattern}
			groups[k] = g
		}
		name := shortName(text)
		switch sp.State {
		case "passed":
			g.Passed++
			s.Passed++
			s.Ran++
		case "skipped", "pending":
			g.Skipped++
			s.Skipped++
			r := skipReason(sp, text, rules)
			reasons[r] = append(reasons[r], name)
		default:
			g.Failed++
			s.Failed++
			s.Ran++
			s.Failures = append(s.Failures, failure{Spec: name, Message: sp.Failure.Message})
		}
	}
	for _, g := range groups {
		s.Groups = append(s.Groups, *g)
	}
	sort.Slice(s.Groups, func(i, j int) bool {
		a, b := s.Groups[i], s.Groups[j]
		if a.Suite != b.Suite {
			return a.Suite < b.Suite
		}
		return a.Pattern < b.Pattern
	})
	for text, names := range reasons {
		sort.Strings(names)
		s.Reasons = append(s.Reasons, reason{Text: text, Specs: names})
	}
	sort.Slice(s.Reasons, func(i, j int) bool {
		if len(s.Reasons[i].Specs) != len(s.Reasons[j].Specs) {
			return len(s.Reasons[i].Specs) > len(s.Reasons[j].Specs)
		}
		return s.Reasons[i].Text < s.Reasons[j].Text
	})
	return s, nil
}

func isFailure(state string) bool {
	switch state {
	case "failed", "panicked", "interrupted", "aborted", "timedout":
		return true
	}
	return false
}

// skipReason: the first skips-file rule matching the spec (it never ran), else
// the suite's own skip message, which names the missing capability or
// feature.
func skipReason(sp spec, text string, rules []skipRule) string {
	for _, r := range rules {
		if r.re.MatchString(text) {
			return "not run: " + r.reason
		}
	}
	msg := strings.TrimSpace(sp.Failure.Message)
	if msg == "" {
		return "skipped without a message"
	}
	// Messages end in a newline or carry the namespace of the test; the
	// first line is the reason.
	msg, _, _ = strings.Cut(msg, "\n")
	return "skipped by the suite: " + msg
}

// shortName drops the common "External Storage [Driver: ...]" prefix.
func shortName(text string) string {
	if i := strings.Index(text, "[Testpattern:"); i >= 0 {
		return text[i:]
	}
	return text
}
