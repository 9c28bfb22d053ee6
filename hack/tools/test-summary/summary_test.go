package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goTestJSON runs `go test -json` with args in the module at dir: the real
// go command's stream.
func goTestJSON(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", append([]string{"test", "-count=1", "-json"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	out, err := cmd.Output()
	// go test exits 1 when a test fails: the stream is still whole.
	var exited *exec.ExitError
	if err != nil && !errors.As(err, &exited) {
		t.Fatalf("go test: %v", err)
	}
	return out
}

func summarize(t *testing.T, stream []byte) (string, bool) {
	t.Helper()
	var out bytes.Buffer
	s := newSummary(&out)
	if err := s.read(bytes.NewReader(stream)); err != nil {
		t.Logf("read: %v", err)
	}
	ok := s.finish()
	return out.String(), ok
}

func mustContain(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("summary lacks %q:\n%s", w, out)
		}
	}
}

func mustNotContain(t *testing.T, out string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(out, u) {
			t.Errorf("summary has %q:\n%s", u, out)
		}
	}
}

func TestSummaryOfPassesAndSkips(t *testing.T) {
	out, ok := summarize(t, goTestJSON(t, "testdata/sample", "-run", "Passes|Skips|Subtests"))
	if !ok {
		t.Errorf("passing stream judged failed:\n%s", out)
	}
	mustContain(t, out,
		"ok  \tsample",
		"tests: 3 passed, 0 failed, 2 skipped\n",
		"    skipped: sample TestSkips: sample_test.go:12: needs something this machine lacks\n",
		"    skipped: sample TestSubtests/skips: sample_test.go:17: looked for it / sample_test.go:18: no widget here\n")
	// A passing test's log stays out, as in a plain go test.
	mustNotContain(t, out, "quiet unless it fails", "=== RUN", "--- PASS", "PASS\n")
}

func TestSummaryOfAFailure(t *testing.T) {
	out, ok := summarize(t, goTestJSON(t, "testdata/sample"))
	if ok {
		t.Errorf("failing stream judged passed:\n%s", out)
	}
	mustContain(t, out,
		"--- FAIL: TestFails",
		"the failure's own message",
		"FAIL\tsample",
		"tests: 3 passed, 1 failed, 2 skipped\n")
}

// A package that does not compile, written here rather than kept in
// testdata, where gofmt and the linters would trip on it.
func TestSummaryOfABuildFailure(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"go.mod":    "module broken\n\ngo 1.22\n",
		"x_test.go": "package broken\n\nfunc TestX(t *testing.T) { x := }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, ok := summarize(t, goTestJSON(t, dir))
	if ok {
		t.Errorf("build failure judged passed:\n%s", out)
	}
	mustContain(t, out, "x_test.go:3:33: expected operand", "FAIL\tbroken [setup failed]\n")
}

// A test still running when the binary died (the -timeout panic) has no
// end event: what it logged is printed with its package's failure.
func TestSummaryOfATimeout(t *testing.T) {
	stream := `{"Action":"run","Package":"p","Test":"TestHangs"}
{"Action":"output","Package":"p","Test":"TestHangs","Output":"    p_test.go:9: waiting for the device\n"}
{"Action":"output","Package":"p","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t1.0s\n"}
{"Action":"fail","Package":"p"}
`
	out, ok := summarize(t, []byte(stream))
	if ok {
		t.Errorf("timed-out stream judged passed:\n%s", out)
	}
	mustContain(t, out, "panic: test timed out", "waiting for the device", "tests: 0 passed, 0 failed, 0 skipped")
}

func TestSummaryOfSomethingElse(t *testing.T) {
	out, ok := summarize(t, []byte("go: unknown flag -frob\n"))
	if ok {
		t.Errorf("a stream that is not JSON judged passed:\n%s", out)
	}
	mustContain(t, out, "go: unknown flag -frob")
}
