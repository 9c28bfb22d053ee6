package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A report as ginkgo writes it (trimmed to the fields read), with one spec
// of each kind: passed, failed, skipped by the skips file, skipped by the
// suite at run time, outside the focus, and a failed suite set-up.
const fixture = `[{"SuiteDescription":"Kubernetes e2e suite","RunTime":61000000000,"SpecReports":[
{"ContainerHierarchyTexts":["External Storage [Driver: blkio.csi.dev]","[Testpattern: Dynamic PV (default fs)] provisioning"],
 "LeafNodeType":"It","LeafNodeText":"should provision storage with pvc data source","State":"passed","RunTime":2000000000},
{"ContainerHierarchyTexts":["External Storage [Driver: blkio.csi.dev]","[Testpattern: Dynamic PV (block volmode)] volumeMode"],
 "LeafNodeType":"It","LeafNodeText":"should fail to use a volume in a pod with mismatched mode","State":"failed",
 "Failure":{"Message":"timed out | waiting\nfor pod"}},
{"ContainerHierarchyTexts":["External Storage [Driver: blkio.csi.dev]","[Testpattern: Dynamic PV (default fs)] disruptive"],
 "LeafNodeType":"It","LeafNodeText":"should restart the kubelet [Disruptive]","State":"skipped"},
{"ContainerHierarchyTexts":["External Storage [Driver: blkio.csi.dev]","[Testpattern: Dynamic PV (default fs)] provisioning"],
 "LeafNodeType":"It","LeafNodeText":"should provision storage with snapshot data source","State":"skipped",
 "Failure":{"Message":"Driver blkio.csi.dev doesn't support SnapshotDataSource -- skipping\nmore"}},
{"ContainerHierarchyTexts":["[sig-network] DNS"],"LeafNodeType":"It","LeafNodeText":"should resolve","State":"skipped"},
{"LeafNodeType":"SynchronizedBeforeSuite","State":"failed","Failure":{"Message":"no nodes"}}
]}]`

func TestSummarize(t *testing.T) {
	specs, rt, err := parseReport([]byte(fixture))
	if err != nil {
		t.Fatal(err)
	}
	if rt.Seconds() != 61 {
		t.Errorf("run time = %v, want 61s", rt)
	}
	rules := []skipRule{mustRule(t, `\[Disruptive\]`, "needs SSH")}
	s, err := summarize(specs, `External.Storage.*blkio\.csi\.dev`, rules)
	if err != nil {
		t.Fatal(err)
	}
	got := [5]int{s.InScope, s.Ran, s.Passed, s.Failed, s.Skipped}
	// The set-up failure counts as failed but is no spec in scope.
	if want := [5]int{4, 2, 1, 2, 2}; got != want {
		t.Errorf("in scope, ran, passed, failed, skipped = %v, want %v", got, want)
	}
	if len(s.Groups) != 3 || s.Groups[0].Suite != "disruptive" || s.Groups[2].Pattern != "Dynamic PV (block volmode)" {
		t.Errorf("groups = %+v", s.Groups)
	}
	reasons := map[string]int{}
	for _, r := range s.Reasons {
		reasons[r.Text] = len(r.Specs)
	}
	for _, want := range []string{
		"not run: needs SSH",
		"skipped by the suite: Driver blkio.csi.dev doesn't support SnapshotDataSource -- skipping",
	} {
		if reasons[want] != 1 {
			t.Errorf("reason %q: %d specs, want 1 (reasons: %v)", want, reasons[want], reasons)
		}
	}

	var b bytes.Buffer
	if err := render(&b, s); err != nil {
		t.Fatal(err)
	}
	doc := b.String()
	for _, want := range []string{
		"| passed | 1 |", "| failed | 2 |",
		"| volumeMode | Dynamic PV (block volmode) | 0 | 1 | 0 |",
		`timed out \| waiting for pod`, // one line, pipe escaped
		"### not run: needs SSH (1)",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("document lacks %q:\n%s", want, doc)
		}
	}
}

func TestReadSkips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "skips")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# comment\n\n\\[Disruptive\\] ;; needs SSH\n")
	rules, err := readSkips(path)
	if err != nil || len(rules) != 1 || rules[0].reason != "needs SSH" {
		t.Fatalf("readSkips = %+v, %v", rules, err)
	}
	for _, bad := range []string{"no reason here\n", "[ ;; unbalanced bracket\n", "x ;;  \n"} {
		write(bad)
		if _, err := readSkips(path); err == nil {
			t.Errorf("readSkips(%q) accepted it", bad)
		}
	}
}

func mustRule(t *testing.T, re, reason string) skipRule {
	t.Helper()
	path := filepath.Join(t.TempDir(), "skips")
	if err := os.WriteFile(path, []byte(re+" ;; "+reason+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := readSkips(path)
	if err != nil {
		t.Fatal(err)
	}
	return r[0]
}
