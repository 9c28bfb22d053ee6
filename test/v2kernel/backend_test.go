//go:build v2kernel && linux

package v2kernel

import (
	"errors"
	"strings"
	"testing"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// TestDetectBackendPicksV2OnPureV2Mount: the VM mounts cgroup2 alone at
// /sys/fs/cgroup (no blkio, no unified), as systemd does on current
// distributions; detection must choose v2 there and say so.
func TestDetectBackendPicksV2OnPureV2Mount(t *testing.T) {
	requireV2Kernel(t)
	b, err := throttle.DetectBackend(cgroupRoot, nil)
	if err != nil {
		t.Fatalf("DetectBackend(%s): %v", cgroupRoot, err)
	}
	if b.Version() != 2 || b.Hierarchy() != cgroupRoot || !b.Hierarchical() {
		t.Errorf("DetectBackend chose version %d at %s (hierarchical %v), want v2 at %s, hierarchical",
			b.Version(), b.Hierarchy(), b.Hierarchical(), cgroupRoot)
	}
	if d := b.Description(); !strings.Contains(d, "v2") {
		t.Errorf("the backend describes itself as %q, want it to name cgroup v2", d)
	}
}

// TestDetectBackendRefusesV2WithoutIO: a cgroup2 directory whose parent
// does not hand it the io controller cannot throttle, and detection must
// say so (Probe then reports not ready) rather than pick v2 there.
func TestDetectBackendRefusesV2WithoutIO(t *testing.T) {
	requireV2Kernel(t)
	parent := mkCgroup(t, cgroupRoot, testutil.Prefix+"-"+randomHex(t, 4)) // enables nothing below
	noIO := mkCgroup(t, parent, "noio")
	b, err := throttle.DetectBackend(noIO, nil)
	if !errors.Is(err, throttle.ErrNoBackend) {
		t.Fatalf("DetectBackend(%s) without the io controller = %v, %v; want ErrNoBackend", noIO, b, err)
	}
	t.Logf("refused: %v", err)
}

// TestV2BackendWritesIOMaxLinesTheKernelPrintsBack writes limits through the
// backend and compares the kernel's own io.max line with the entry's
// String(): the formatting is exactly the kernel's syntax, knobs that become
// unlimited are reset, other devices' lines are left alone, and Limits{}
// removes the device's line.
func TestV2BackendWritesIOMaxLinesTheKernelPrintsBack(t *testing.T) {
	requireV2Kernel(t)
	b, err := throttle.DetectBackend(cgroupRoot, nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, other := attachLoop(t, 16<<20).Device, attachLoop(t, 16<<20).Device
	tree := newKubeletTree(t, cgroupfsLayout)
	pod := tree.pod(t, newPodUID(t))

	otherLimits := throttle.Limits{ReadIOPS: 77}
	if err := b.WriteLimits(pod, other, otherLimits); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		limits throttle.Limits
		line   string // what the kernel prints after the device
	}{
		{throttle.Limits{ReadBytesPerSecond: 10 << 20, WriteBytesPerSecond: 8 << 20, ReadIOPS: 1000, WriteIOPS: 500},
			"rbps=10485760 wbps=8388608 riops=1000 wiops=500"},
		// The other three knobs go back to max.
		{throttle.Limits{WriteBytesPerSecond: 1 << 20}, "rbps=max wbps=1048576 riops=max wiops=max"},
		// The extremes the kernel keeps (see TestIOMaxValueRange).
		{throttle.Limits{ReadBytesPerSecond: 2, WriteBytesPerSecond: 1<<64 - 2, ReadIOPS: 2, WriteIOPS: 1<<32 - 2},
			"rbps=2 wbps=18446744073709551614 riops=2 wiops=4294967294"},
		{throttle.Limits{ReadIOPS: 100}, "rbps=max wbps=max riops=100 wiops=max"},
	} {
		l := c.limits
		if err := b.WriteLimits(pod, dev, l); err != nil {
			t.Fatalf("WriteLimits(%v): %v", l, err)
		}
		want := dev.String() + " " + c.line
		if got := cgroupLine(t, pod, "io.max", dev); got != want {
			t.Errorf("after WriteLimits(%v) the kernel's io.max line is %q, want %q", l, got, want)
		}
		if got := (throttle.IOMaxEntry{Device: dev, Limits: l}).String(); got != want {
			t.Errorf("IOMaxEntry.String() = %q, the kernel prints %q", got, want)
		}
		if got, err := b.ReadLimits(pod, dev); err != nil || got != l {
			t.Errorf("ReadLimits after WriteLimits(%v) = %v, %v", l, got, err)
		}
	}
	if got, err := b.ReadLimits(pod, other); err != nil || got != otherLimits {
		t.Errorf("the other device's limits read %v, %v; want them untouched: %v", got, err, otherLimits)
	}

	// The kernel refuses a limit of 1 (it reads as "unset" in blk-throttle):
	// the backend must report that, not pretend the limit is in place.
	if err := b.WriteLimits(pod, dev, throttle.Limits{WriteIOPS: 1}); err == nil {
		t.Errorf("WriteLimits(wiops=1) succeeded; io.max now reads %q", cgroupLine(t, pod, "io.max", dev))
	} else {
		t.Logf("the kernel refuses wiops=1: %v", err)
	}

	if err := b.WriteLimits(pod, dev, throttle.Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := cgroupLine(t, pod, "io.max", dev); got != "" {
		t.Errorf("after WriteLimits(Limits{}) io.max still has %q, want no line for %s", got, dev)
	}
	if got, err := b.ReadLimits(pod, dev); err != nil || got != (throttle.Limits{}) {
		t.Errorf("ReadLimits after lifting = %v, %v; want unlimited", got, err)
	}
}

// TestV2BackendReadsIOStat compares the backend's counters with the
// kernel's io.stat fields after a container read and wrote known amounts.
func TestV2BackendReadsIOStat(t *testing.T) {
	requireV2Kernel(t)
	b, err := throttle.DetectBackend(cgroupRoot, nil)
	if err != nil {
		t.Fatal(err)
	}
	loop := attachLoop(t, 32<<20)
	tree := newKubeletTree(t, cgroupfsLayout)
	pod := tree.pod(t, newPodUID(t))
	if c, err := b.ReadCounters(pod, loop.Device); err != nil || c != (throttle.Counters{}) {
		t.Fatalf("a pod that did no IO reads %+v, %v; want zero counters", c, err)
	}

	const wrote, read = 6 << 20, 2 << 20
	ctr := tree.container(t, pod)
	runIO(t, ctr, ioJob{Path: loop.Path, Bytes: wrote, Block: 1 << 20, Direct: true})
	runIO(t, ctr, ioJob{Path: loop.Path, Bytes: read, Block: 256 << 10, Direct: true, Read: true})

	got, err := b.ReadCounters(pod, loop.Device)
	if err != nil {
		t.Fatal(err)
	}
	raw := ioStat(t, pod, loop.Device)
	want := throttle.Counters{ReadBytes: raw["rbytes"], WriteBytes: raw["wbytes"], ReadIOs: raw["rios"], WriteIOs: raw["wios"]}
	if got != want {
		t.Errorf("ReadCounters = %+v, the kernel's io.stat says %v", got, raw)
	}
	if got.WriteBytes < wrote || got.ReadBytes < read || got.WriteIOs == 0 || got.ReadIOs == 0 {
		t.Errorf("ReadCounters = %+v after writing %d and reading %d bytes directly", got, wrote, read)
	}
}
