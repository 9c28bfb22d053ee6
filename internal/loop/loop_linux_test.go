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

// Find narrows the devices by the file's name and confirms by its
// identity: of two attached files with the same name, each finds its own
// device, and a third file of that name finds none.
func TestKernelFindTellsFilesOfTheSameNameApart(t *testing.T) {
	testutil.RequireRoot(t)
	k := NewKernel()
	var files []string
	for range 3 {
		file := filepath.Join(t.TempDir(), testutil.Prefix+"-same.img")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(file, 1<<20); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	for _, file := range files[:2] {
		dev, err := k.Attach(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k.Detach(dev.Path) })
		found, ok, err := k.Find(file)
		if err != nil || !ok || found.Path != dev.Path {
			t.Errorf("Find(%s) = %+v, %v, %v; want %s", file, found, ok, err, dev.Path)
		}
	}
	if found, ok, err := k.Find(files[2]); ok || err != nil {
		t.Errorf("Find of an unattached file of the same name = %+v, %v, %v; want none", found, ok, err)
	}
}
