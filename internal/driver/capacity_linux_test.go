package driver_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// TestKernelPerGiB: limits per GiB of capacity reach the kernel computed for
// the volume's size, clamped by Min and Max, and an expansion raises them.
// A 4 GiB volume with writeIOPSPerGiB 25 holds a direct-IO writer of 4 KiB
// blocks to 100 IOPS.
func TestKernelPerGiB(t *testing.T) {
	be := newBurstEnv(t)
	const gib = int64(1) << 30
	iops := func(cgroup string) string { return throttleFile(t, cgroup, "write_iops_device") }
	podDir := func(uid string) string {
		return filepath.Join(testutil.BlkioV1, be.parent, "kubepods", "burstable", "pod"+uid)
	}

	// 4 GiB * 25 = 100 IOPS, held for real.
	uid := testutil.PodUID(25)
	key, ctr, path, dev := be.publishBurst(t, uid, 4*gib, map[string]string{"writeIOPSPerGiB": "25"})
	if got, want := iops(podDir(uid)), fmt.Sprintf("%s 100", dev); got != want {
		t.Errorf("4 GiB at 25 IOPS/GiB: kernel holds %q, want %q", got, want)
	}
	waitFor(t, func() bool { return iops(ctr) == fmt.Sprintf("%s 100", dev) })
	const ios = 300
	cmd := testutil.CommandInCgroup(t, ctr, "dd", "if=/dev/zero", "of="+path, "bs=4k", fmt.Sprintf("count=%d", ios), "oflag=direct")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dd: %v\n%s", err, out)
	}
	got := ios / time.Since(start).Seconds()
	t.Logf("4 KiB direct-IO writer: %.1f IOPS against 100 (ratio %.3f)", got, got/100)
	if got < 50 || got > 125 {
		t.Errorf("achieved %.1f IOPS, want about 100", got)
	}

	// An expansion to 6 GiB raises it to 150.
	if _, err := be.h.Controller().ControllerExpandVolume(context.Background(), &csi.ControllerExpandVolumeRequest{
		VolumeId: key.VolumeID, CapacityRange: &csi.CapacityRange{RequiredBytes: 6 * gib}}); err != nil {
		t.Fatal(err)
	}
	if got, want := iops(podDir(uid)), fmt.Sprintf("%s 150", dev); got != want {
		t.Errorf("after expanding to 6 GiB: kernel holds %q, want %q", got, want)
	}
	if got, want := iops(ctr), fmt.Sprintf("%s 150", dev); got != want {
		t.Errorf("after expanding to 6 GiB: container holds %q, want %q", got, want)
	}

	// Min and Max clamp.
	for _, c := range []struct {
		uid    int
		size   int64
		params map[string]string
		want   int
	}{
		{26, 1 * gib, map[string]string{"writeIOPSPerGiB": "25", "writeIOPSMin": "60"}, 60},
		{27, 8 * gib, map[string]string{"writeIOPSPerGiB": "25", "writeIOPSMax": "150"}, 150},
	} {
		uid := testutil.PodUID(c.uid)
		_, _, _, dev := be.publishBurst(t, uid, c.size, c.params)
		if got, want := iops(podDir(uid)), fmt.Sprintf("%s %d", dev, c.want); got != want {
			t.Errorf("%d GiB with %v: kernel holds %q, want %q", c.size/gib, c.params, got, want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
