package driver

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"k8s.io/mount-utils"
	testingexec "k8s.io/utils/exec/testing"

	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// fakeLoop is an in-memory loop.Attacher for tests of validation logic.
type fakeLoop struct {
	mu    sync.Mutex
	next  int
	files map[string]string // device -> backing file
}

func (f *fakeLoop) Attach(file string) (loop.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.files == nil {
		f.files = map[string]string{}
	}
	dev := fmt.Sprintf("/dev/fakeloop%d", f.next)
	f.next++
	f.files[dev] = file
	return loop.Device{Path: dev, DirectIO: true}, nil
}

func (f *fakeLoop) Find(file string) (loop.Device, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for d, b := range f.files {
		if b == file {
			return loop.Device{Path: d, DirectIO: true}, true, nil
		}
	}
	return loop.Device{}, false, nil
}

func (f *fakeLoop) BackingFile(dev string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.files[dev]; ok {
		return b, nil
	}
	return "", loop.ErrNotAttached
}

func (f *fakeLoop) Detach(dev string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.files, dev)
	return nil
}

func (f *fakeLoop) Refresh(string) error       { return nil }
func (f *fakeLoop) Size(string) (int64, error) { return 0, nil }

// fakeThrottler records the groups it holds.
type fakeThrottler struct {
	mu     sync.Mutex
	groups map[throttle.Key]throttle.Spec
}

func (f *fakeThrottler) Ensure(_ context.Context, k throttle.Key, s throttle.Spec) (throttle.Phase, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.groups == nil {
		f.groups = map[throttle.Key]throttle.Spec{}
	}
	f.groups[k] = s
	return throttle.PhasePending, nil
}

// Update changes a held group's limits, as the table does.
func (f *fakeThrottler) Update(_ context.Context, k throttle.Key, l throttle.Limits) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.groups[k]
	if !ok {
		return throttle.ErrGroupNotFound
	}
	s.Limits = l
	f.groups[k] = s
	return nil
}

func (f *fakeThrottler) Get(k throttle.Key) (throttle.GroupStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.groups[k]
	return throttle.GroupStatus{Key: k, Spec: s, Phase: throttle.PhaseActive}, ok
}

func (f *fakeThrottler) Remove(_ context.Context, k throttle.Key) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.groups, k)
	return nil
}

// newFakeDriver builds a driver whose OS boundary is faked; only the volume
// store is real (in t.TempDir()).
func newFakeDriver(t *testing.T) *Driver {
	t.Helper()
	dir := t.TempDir()
	store, err := volume.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Name: "blkio.csi.dev", Version: "test", NodeID: "node-1", StateDir: dir}, Deps{
		Store:     store,
		Loop:      &fakeLoop{},
		Mounter:   &mount.SafeFormatAndMount{Interface: mount.NewFakeMounter(nil), Exec: &testingexec.FakeExec{}},
		Resizer:   mount.NewResizeFs(&testingexec.FakeExec{}),
		Throttler: &fakeThrottler{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
