package reliability

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The syscalls that create or remove a name in the filesystem (or mount
// over one). strace's -y annotates each dirfd with its path, so relative
// names of the *at calls resolve.
const tracedSyscalls = "open,openat,openat2,creat,mkdir,mkdirat,mknod,mknodat,unlink,unlinkat,rmdir,rename,renameat,renameat2," +
	"link,linkat,symlink,symlinkat,truncate,bind,mount,umount2"

// startTraced starts the plugin like start, under strace -f (every thread
// and every child: mount, mkfs, blkid, fsck), writing one trace file per
// process under dir.
func (e *env) startTraced(t *testing.T, dir string) *plugin {
	t.Helper()
	straceBin, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("strace is needed to audit the plugin's file system calls (hack/deps.sh installs it): %v", err)
	}
	e.wrap = []string{straceBin, "-ff", "-qq", "-y", "-o", filepath.Join(dir, "trace"), "-e", "trace=" + tracedSyscalls, "--"}
	defer func() { e.wrap = nil }()
	return e.start(t)
}

// stopTraced stops a plugin started by startTraced: SIGTERM to the plugin
// (strace's child), then strace exits with it.
func (p *plugin) stopTraced(t *testing.T) {
	t.Helper()
	kids := p.children()
	if len(kids) != 1 {
		t.Fatalf("strace has children %v, want the plugin", kids)
	}
	if err := syscall.Kill(kids[0], syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 60*time.Second)
	if code := p.state.ExitCode(); code != 0 {
		t.Errorf("traced plugin exited %d; log tail:\n%s", code, tail(p.log(t), 30))
	}
}

// fsChange is one successful call that created, removed or mounted over path.
type fsChange struct {
	call string
	path string
	line string
}

var (
	traceLine = regexp.MustCompile(`^(\w+)\((.*)\)\s+= (-?\d+)`)
	dirfdArg  = regexp.MustCompile(`^(?:\d+|AT_FDCWD)<(.*)>$`)
)

// readTraces parses every trace file under dir.
func readTraces(t *testing.T, dir string) []fsChange {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "trace.*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no strace output under %s (%v)", dir, err)
	}
	var out []fsChange
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			out = append(out, parseTraceLine(t, sc.Text())...)
		}
		f.Close()
	}
	return out
}

func parseTraceLine(t *testing.T, line string) []fsChange {
	m := traceLine.FindStringSubmatch(line)
	if m == nil || strings.HasPrefix(m[3], "-") {
		return nil // a signal, an exit, or a call that failed
	}
	call, args := m[1], splitArgs(m[2])
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	// path resolves a quoted name against a dirfd annotation ("" = none).
	path := func(dirfd, quoted string) string {
		p, err := strconv.Unquote(quoted)
		if err != nil {
			return "?unparsed " + quoted
		}
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		if d := dirfdArg.FindStringSubmatch(dirfd); d != nil {
			return filepath.Join(d[1], p)
		}
		return "?relative " + p
	}
	var paths []string
	switch call {
	case "open", "creat":
		if call == "creat" || strings.Contains(arg(1), "O_CREAT") {
			paths = append(paths, path("", arg(0)))
		}
	case "openat", "openat2":
		if strings.Contains(arg(2), "O_CREAT") {
			paths = append(paths, path(arg(0), arg(1)))
		}
	case "mkdir", "mknod", "unlink", "rmdir", "truncate":
		paths = append(paths, path("", arg(0)))
	case "mkdirat", "mknodat", "unlinkat":
		paths = append(paths, path(arg(0), arg(1)))
	case "rename", "link":
		paths = append(paths, path("", arg(0)), path("", arg(1)))
	case "renameat", "renameat2", "linkat":
		paths = append(paths, path(arg(0), arg(1)), path(arg(2), arg(3)))
	case "symlink":
		paths = append(paths, path("", arg(1)))
	case "symlinkat":
		paths = append(paths, path(arg(1), arg(2)))
	case "mount":
		paths = append(paths, path("", arg(1)))
	case "umount2":
		paths = append(paths, path("", arg(0)))
	case "bind":
		if i := strings.Index(arg(1), `sun_path="`); i >= 0 && strings.Contains(arg(1), "AF_UNIX") {
			q := arg(1)[i+len("sun_path="):]
			paths = append(paths, path("", q[:strings.LastIndex(q, `"`)+1]))
		}
	}
	var out []fsChange
	for _, p := range paths {
		out = append(out, fsChange{call: call, path: p, line: line})
	}
	return out
}

// splitArgs splits strace's argument list at top-level commas.
func splitArgs(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '{' || c == '[' || c == '(':
			depth++
		case c == '}' || c == ']' || c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}
