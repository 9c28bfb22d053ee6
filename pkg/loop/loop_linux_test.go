package loop

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestKernelLifecycle attaches a real loop device: direct IO on, found by its
// backing file, grown with LOOP_SET_CAPACITY, detached twice.
func TestKernelLifecycle(t *testing.T) {
	testutil.RequireRoot(t)
	file := filepath.Join(t.TempDir(), testutil.Prefix+"-loop.img")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(file, 16<<20); err != nil {
		t.Fatal(err)
	}
	k := NewKernel()
	dev, err := k.Attach(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Detach(dev.Path) })
	if !dev.DirectIO {
		t.Errorf("%s attached without direct IO", dev.Path)
	}
	found, ok, err := k.Find(file)
	if err != nil || !ok || found.Path != dev.Path {
		t.Fatalf("Find = %+v, %v, %v; want %s", found, ok, err, dev.Path)
	}
	if bf, err := k.BackingFile(dev.Path); err != nil || bf != file {
		t.Fatalf("BackingFile = %q, %v; want %q", bf, err, file)
	}
	if size, err := k.Size(dev.Path); err != nil || size != 16<<20 {
		t.Fatalf("Size = %d, %v; want %d", size, err, 16<<20)
	}
	if err := os.Truncate(file, 32<<20); err != nil {
		t.Fatal(err)
	}
	if err := k.Refresh(dev.Path); err != nil {
		t.Fatal(err)
	}
	if size, err := k.Size(dev.Path); err != nil || size != 32<<20 {
		t.Fatalf("Size after Refresh = %d, %v; want %d", size, err, 32<<20)
	}
	if err := k.Detach(dev.Path); err != nil {
		t.Fatal(err)
	}
	if _, err := k.BackingFile(dev.Path); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("BackingFile after Detach = %v, want ErrNotAttached", err)
	}
	if _, ok, _ := k.Find(file); ok {
		t.Fatal("Find still finds the detached device")
	}
	if err := k.Detach(dev.Path); err != nil {
		t.Fatalf("second Detach: %v", err)
	}
}
