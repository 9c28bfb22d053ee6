package driver

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/mount-utils"
	utilexec "k8s.io/utils/exec"
	testingexec "k8s.io/utils/exec/testing"

	"github.com/csi-blkio/csi-blkio/internal/params"
	"github.com/csi-blkio/csi-blkio/internal/volume"
)

// recordingExec is a FakeExec that records every command line and answers
// each with output and err.
func recordingExec(lines *[]string, n int, err error) *testingexec.FakeExec {
	fx := &testingexec.FakeExec{}
	for range n {
		fx.CommandScript = append(fx.CommandScript, func(cmd string, args ...string) utilexec.Cmd {
			*lines = append(*lines, strings.Join(append([]string{cmd}, args...), " "))
			fc := &testingexec.FakeCmd{CombinedOutputScript: []testingexec.FakeAction{
				func() ([]byte, []byte, error) { return nil, nil, err },
			}}
			return testingexec.InitFakeCmd(fc, cmd, args...)
		})
	}
	return fx
}

// backingFile returns a file of 1 MiB with no block allocated, or with
// its first block written when written is true.
func backingFile(t *testing.T, written bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vol.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(1 << 20); err != nil {
		t.Fatal(err)
	}
	if written {
		if _, err := f.WriteAt(make([]byte, 4096), 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestFormatAndMountSkipsTheProbeOfANeverWrittenVolume(t *testing.T) {
	for _, fs := range []string{params.FsExt4, params.FsXFS} {
		t.Run(fs, func(t *testing.T) {
			var lines []string
			fm := mount.NewFakeMounter(nil)
			d := &Driver{deps: Deps{Mounter: &mount.SafeFormatAndMount{Interface: fm, Exec: recordingExec(&lines, 1, nil)}}}
			r := &volume.Record{Params: params.Volume{FsType: fs}}
			if err := d.formatAndMount(r, backingFile(t, false), "/dev/loop9", "/stage", nil); err != nil {
				t.Fatal(err)
			}
			want := "mkfs." + fs + " " + strings.Join(mkfsArgs(fs, "/dev/loop9"), " ")
			if !slices.Equal(lines, []string{want}) {
				t.Errorf("commands %q, want only %q (no blkid)", lines, want)
			}
			if mps, _ := fm.List(); len(mps) != 1 || mps[0].Path != "/stage" || mps[0].Type != fs {
				t.Errorf("mounts %+v, want %s at /stage", mps, fs)
			}
		})
	}
}

// A volume that has been written to may hold the user's filesystem: it is
// probed (and never formatted blind), and so is a blank one staged
// read-only, which SafeFormatAndMount refuses to format.
func TestFormatAndMountProbesOtherVolumes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		written bool
		flags   []string
	}{
		{"written", true, nil},
		{"blank read-only", false, []string{"ro"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lines []string
			probeFailed := errors.New("probe answered by the test")
			d := &Driver{deps: Deps{Mounter: &mount.SafeFormatAndMount{Interface: mount.NewFakeMounter(nil), Exec: recordingExec(&lines, 1, probeFailed)}}}
			r := &volume.Record{Params: params.Volume{FsType: params.FsExt4}}
			err := d.formatAndMount(r, backingFile(t, tc.written), "/dev/loop9", "/stage", tc.flags)
			if err == nil || !strings.Contains(err.Error(), probeFailed.Error()) {
				t.Errorf("error %v, want the probe's", err)
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "blkid ") {
				t.Errorf("commands %q, want blkid first", lines)
			}
		})
	}
}
