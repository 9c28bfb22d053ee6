package fault

import (
	"context"
	"strings"
	"testing"

	"k8s.io/mount-utils"
	testingexec "k8s.io/utils/exec/testing"

	"github.com/csi-blkio/csi-blkio/internal/driver"
	"github.com/csi-blkio/csi-blkio/internal/loop"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

func TestParse(t *testing.T) {
	in, err := Parse("publish-after-bind:kill@3")
	if err != nil || in.Point() != PublishAfterBind || in.nth != 3 {
		t.Fatalf("Parse = %+v, %v", in, err)
	}
	for spec, want := range map[string]string{
		"stage-after-attach":         "want <point>:kill",
		"nowhere:kill":               `unknown point "nowhere"`,
		"stage-after-attach:explode": `unknown action "explode"`,
		"stage-after-attach:kill@0":  "not a positive count",
		"stage-after-attach:kill@x":  "not a positive count",
	} {
		if _, err := Parse(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", spec, err, want)
		}
	}
}

type nopLoop struct{ loop.Attacher }

func (nopLoop) Attach(string) (loop.Device, error) { return loop.Device{Path: "/dev/loop9"}, nil }
func (nopLoop) Detach(string) error                { return nil }
func (nopLoop) Refresh(string) error               { return nil }

type nopThrottler struct{ driver.Throttler }

func (nopThrottler) Ensure(context.Context, throttle.Key, throttle.Spec) (throttle.Phase, error) {
	return throttle.PhaseActive, nil
}
func (nopThrottler) Remove(context.Context, throttle.Key) error { return nil }

// TestDecoratorsFireAtTheirPoint drives each wrapped call and checks that
// exactly the armed point kills, only after Activate, and only the Nth time.
func TestDecoratorsFireAtTheirPoint(t *testing.T) {
	calls := map[Point]func(d *driver.Deps){
		StageAfterAttach:     func(d *driver.Deps) { d.Loop.Attach("/f") },
		UnstageAfterDetach:   func(d *driver.Deps) { d.Loop.Detach("/dev/loop9") },
		ExpandAfterRefresh:   func(d *driver.Deps) { d.Loop.Refresh("/dev/loop9") },
		StageBeforeMount:     func(d *driver.Deps) { d.Mounter.Mount("/dev/loop9", "/s", "ext4", nil) },
		StageAfterMount:      func(d *driver.Deps) { d.Mounter.MountSensitive("/dev/loop9", "/s", "ext4", nil, nil) },
		PublishBeforeBind:    func(d *driver.Deps) { d.Mounter.Mount("/s", "/t", "", []string{"bind"}) },
		PublishAfterBind:     func(d *driver.Deps) { d.Mounter.Mount("/s", "/t", "", []string{"bind", "ro"}) },
		PublishAfterEnsure:   func(d *driver.Deps) { d.Throttler.Ensure(context.Background(), throttle.Key{}, throttle.Spec{}) },
		UnpublishAfterRemove: func(d *driver.Deps) { d.Throttler.Remove(context.Background(), throttle.Key{}) },
	}
	// A mount reaches the point before it and the one after it.
	pair := map[Point]Point{StageBeforeMount: StageAfterMount, StageAfterMount: StageBeforeMount,
		PublishBeforeBind: PublishAfterBind, PublishAfterBind: PublishBeforeBind}
	if len(calls) != len(Points()) {
		t.Fatalf("%d points, %d driven", len(Points()), len(calls))
	}
	for _, p := range Points() {
		t.Run(string(p), func(t *testing.T) {
			in, err := Parse(string(p) + ":kill@2")
			if err != nil {
				t.Fatal(err)
			}
			kills := 0
			in.kill = func() { kills++ }
			deps := driver.Deps{
				Loop:      nopLoop{},
				Mounter:   &mount.SafeFormatAndMount{Interface: mount.NewFakeMounter(nil), Exec: &testingexec.FakeExec{}},
				Throttler: nopThrottler{},
			}
			in.Arm(&deps)
			calls[p](&deps) // before Activate: start-up recovery
			in.Activate()
			for q, call := range calls {
				if q != p && pair[p] != q {
					call(&deps)
				}
			}
			calls[p](&deps)
			if kills != 0 {
				t.Fatalf("killed %d times before the 2nd hit", kills)
			}
			calls[p](&deps)
			if kills != 1 {
				t.Fatalf("killed %d times at the 2nd hit, want 1", kills)
			}
		})
	}
}
