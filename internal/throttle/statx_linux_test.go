package throttle

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// statxDeniedEnv names the errno a re-executed test binary makes statx(2)
// fail with, through a seccomp filter of its own.
const statxDeniedEnv = "CSIBLKIO_TEST_STATX_DENIED"

// statxDenials are the answers a system without statx gives.
var statxDenials = map[string]syscall.Errno{"ENOSYS": unix.ENOSYS, "EPERM": unix.EPERM}

// TestLinkCountWithoutStatx checks the link counts in a child process
// whose seccomp filter answers statx with ENOSYS (a kernel before 4.11), and
// in one where it answers EPERM (a container runtime's profile older than
// statx): they must come from stat(2) and be the same. The filter is the
// child's alone; this process keeps statx.
func TestLinkCountWithoutStatx(t *testing.T) {
	if errno := os.Getenv(statxDeniedEnv); errno != "" {
		linkCountsWithStatxDenied(t, errno) // the child
		return
	}
	if _, ok := seccompArch(); !ok {
		t.Skipf("the filter knows no seccomp architecture value for %s", runtime.GOARCH)
	}
	for errno := range statxDenials {
		t.Run(errno, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLinkCountWithoutStatx$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), statxDeniedEnv+"="+errno)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("with statx denied (%s): %v\n%s", errno, err, out)
			}
			if !strings.Contains(string(out), statxDeniedDone+errno) {
				t.Fatalf("the child did not check the counts:\n%s", out)
			}
		})
	}
}

// statxDeniedDone is what the child logs once it has checked the counts.
const statxDeniedDone = "link counts checked with statx failing with "

// linkCountsWithStatxDenied is the child's part: it installs the filter,
// sees statx fail as asked, then checks the counts and that the refusal is
// remembered.
func linkCountsWithStatxDenied(t *testing.T, errno string) {
	installStatxFilter(t, errno)
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, t.TempDir(), 0, unix.STATX_NLINK, &st); !errors.Is(err, statxDenials[errno]) {
		t.Fatalf("statx with the filter in place: %v, want %s", err, errno)
	}
	checkLinkCounts(t)
	if !statxRefused.Load() {
		t.Errorf("statx answered %s, yet the link count still tries it first", errno)
	}
	if !t.Failed() {
		t.Log(statxDeniedDone + errno)
	}
}

// seccompArch is the AUDIT_ARCH_ value a seccomp filter sees for this
// binary's system calls, on the architectures the plugin is built for.
func seccompArch() (uint32, bool) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, true
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, true
	}
	return 0, false
}

// installStatxFilter makes every thread of this process (TSYNC: the Go
// runtime runs syscalls on many) get errno from statx(2).
func installStatxFilter(t *testing.T, errnoName string) {
	t.Helper()
	errno, ok := statxDenials[errnoName]
	if !ok {
		t.Fatalf("%s=%q: not one of the denials", statxDeniedEnv, errnoName)
	}
	arch, _ := seccompArch()
	const (
		ldAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK   = unix.BPF_RET | unix.BPF_K
		// Offsets in struct seccomp_data.
		offNr   = 0
		offArch = 4
	)
	prog := []unix.SockFilter{
		{Code: ldAbsW, K: offArch},
		{Code: jeqK, Jt: 0, Jf: 3, K: arch}, // another ABI: allow
		{Code: ldAbsW, K: offNr},
		{Code: jeqK, Jt: 0, Jf: 1, K: unix.SYS_STATX},
		{Code: retK, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
		{Code: retK, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Fatalf("PR_SET_NO_NEW_PRIVS: %v", err)
	}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&fprog))); e != 0 {
		t.Fatalf("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): %v", e)
	}
	runtime.KeepAlive(prog)
}
