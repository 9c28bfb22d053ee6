package driver

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// FuzzCheckID: whatever the volume_id, checkID either refuses it with
// InvalidArgument and a bounded message, or it names exactly one file in
// the volume store — no separator, no dot, no escape.
func FuzzCheckID(f *testing.F) {
	for _, s := range []string{"", "blkio-0123abcd", "csi-" + strings.Repeat("f", 64), "../../etc", "..", ".", "a/b",
		"a\x00b", strings.Repeat("a", 129), strings.Repeat("a", 128), "-a", "A", "blkio-é", "vol.json", "vol\n"} {
		f.Add(s)
	}
	dir := filepath.Join("/", "state", "volumes")
	f.Fuzz(func(t *testing.T, id string) {
		if err := checkID(id); err != nil {
			requireBoundedRefusal(t, fmt.Sprintf("checkID(%q)", id), err)
			return
		}
		if !volume.ValidID(id) || len(id) > 128 || strings.ContainsAny(id, "/.\x00\\") {
			t.Fatalf("checkID accepted %q", id)
		}
		for _, ext := range []string{".json", ".img", ".json.tmp"} {
			p := filepath.Join(dir, id+ext)
			if filepath.Dir(p) != dir || filepath.Base(p) != id+ext {
				t.Fatalf("ID %q names %s, outside %s", id, p, dir)
			}
		}
	})
}

// FuzzCheckPath: whatever the target or staging path, checkPath either
// refuses it with InvalidArgument and a bounded message, or it is an
// absolute path of at most PATH_MAX bytes with no NUL and no ".." element,
// so that it names what it says and nothing above it.
func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"", "/", "/var/lib/kubelet/pods/x/volumes/mount", "relative", "/a/../b", "/a/..", "../a",
		"/a/./b", "/a//b", "/a\x00b", "/" + strings.Repeat("a", 4096), "/a/...", "/a/..b", "/..a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if err := checkPath("target_path", p); err != nil {
			requireBoundedRefusal(t, fmt.Sprintf("checkPath(%q)", p), err)
			return
		}
		if !filepath.IsAbs(p) || len(p) > maxPathLen || strings.ContainsRune(p, 0) {
			t.Fatalf("checkPath accepted %q", p)
		}
		for _, elem := range strings.Split(p, "/") {
			if elem == ".." {
				t.Fatalf("checkPath accepted %q with a .. element", p)
			}
		}
	})
}

// requireBoundedRefusal fails t unless err, what call returned for a value
// it refused, is InvalidArgument with a message of at most 512 bytes: the
// message quotes the value, and a hostile value must not bloat the logs.
func requireBoundedRefusal(t *testing.T, call string, err error) {
	t.Helper()
	s, _ := status.FromError(err)
	if s.Code() != codes.InvalidArgument {
		t.Fatalf("%s: code %s, want InvalidArgument", call, s.Code())
	}
	if len(s.Message()) > 512 {
		t.Fatalf("%s: message of %d bytes, want at most 512", call, len(s.Message()))
	}
}
