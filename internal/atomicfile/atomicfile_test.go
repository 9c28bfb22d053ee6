package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesTheFileAndLeavesNoTemp(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	for _, content := range []string{"first, and longer than the second", "second"} {
		if err := Write(p, []byte(content)); err != nil {
			t.Fatalf("Write(%q): %v", content, err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Fatalf("after Write(%q) the file holds %q", content, got)
		}
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode %o, want 600", perm)
	}
	if _, err := os.Stat(p + TempSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestWriteOverwritesATempACrashLeft(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(p+TempSuffix, []byte("torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("whole")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "whole" {
		t.Fatalf("file holds %q, want %q", got, "whole")
	}
}

func TestWriteFailsAndKeepsTheOldContent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	if err := Write(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	// A directory where the temporary file should go makes the write fail.
	if err := os.Mkdir(p+TempSuffix, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new")); err == nil {
		t.Fatal("Write succeeded with a directory in the temporary file's place")
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Fatalf("file holds %q after a failed Write, want the old content", got)
	}
}
