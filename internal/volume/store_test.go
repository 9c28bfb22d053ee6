package volume

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

func TestIDForNameIsStableAndValid(t *testing.T) {
	a, b := IDForName("pvc-1"), IDForName("pvc-1")
	if a != b {
		t.Fatalf("IDForName not deterministic: %q vs %q", a, b)
	}
	if a == IDForName("pvc-2") {
		t.Fatal("two names map to one ID")
	}
	if !ValidID(a) {
		t.Fatalf("derived ID %q fails the ID pattern", a)
	}
}

func TestValidIDRejectsPaths(t *testing.T) {
	for _, id := range []string{"", "../../etc", "a/b", ".", "..", "A", "vol.json", "a\x00b", "-a", string(make([]byte, 129))} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
	// kubelet's inline volume handle: "csi-" + sha256 hex.
	if id := "csi-" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; !ValidID(id) {
		t.Errorf("ValidID(%q) = false", id)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{
		ID: IDForName("n"), Name: "n", CapacityBytes: 1 << 20, AccessType: AccessMount,
		Params:       params.Volume{Limits: throttle.Limits{WriteIOPS: 5}, Scope: throttle.ScopePod, FsType: "ext4"},
		Staging:      &Staging{Path: "/s", Device: "/dev/loop9", DirectIO: true},
		Publications: map[string]Publication{"/t": {TargetPath: "/t", Pod: throttle.PodRef{UID: "u", Name: "p", Namespace: "ns"}}},
	}
	if err := s.Put(r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("Get = %+v, want %+v", got, r)
	}
	if err := s.CreateBacking(r.ID, 4<<20); err != nil {
		t.Fatal(err)
	}
	if err := s.GrowBacking(r.ID, 8<<20); err != nil {
		t.Fatal(err)
	}
	if err := s.GrowBacking(r.ID, 1<<20); err != nil { // never shrinks
		t.Fatal(err)
	}
	img, _ := s.BackingPath(r.ID)
	if st, err := os.Stat(img); err != nil || st.Size() != 8<<20 {
		t.Fatalf("backing file: %v, %v", st, err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("List = %v, %v", list, err)
	}
	if err := s.Delete(r.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(r.ID); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := s.Get(r.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	left, _ := os.ReadDir(s.Dir())
	if len(left) != 0 {
		t.Fatalf("store dir not empty after Delete: %v", left)
	}
}

func TestStoreRefusesInvalidIDs(t *testing.T) {
	dir := t.TempDir()
	s, err := NewStore(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc.json"), []byte(`{"id":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("../../etc"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("Get(../../etc) = %v, want ErrInvalidID", err)
	}
	if err := s.Put(&Record{ID: "../x"}); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("Put(../x) = %v, want ErrInvalidID", err)
	}
	if err := s.Delete("../../etc"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("Delete(../../etc) = %v, want ErrInvalidID", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc.json")); err != nil {
		t.Fatalf("file outside the store touched: %v", err)
	}
}
