package kube

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/csi-blkio/csi-blkio/internal/statsworker"
	"github.com/csi-blkio/csi-blkio/internal/testutil"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

// sweepCounter counts the worker's passes over a group (each Observe
// follows one readback).
type sweepCounter struct {
	mu     sync.Mutex
	passes []throttle.GroupStatus
}

func (c *sweepCounter) Observe(_ context.Context, st throttle.GroupStatus) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.passes = append(c.passes, st)
	return nil
}
func (c *sweepCounter) Forget(throttle.Key) {}

// sweepsSince returns the passes whose readback started after t.
func (c *sweepCounter) sweepsSince(t time.Time) []throttle.GroupStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []throttle.GroupStatus
	for _, st := range c.passes {
		if st.Readback.At.After(t) {
			out = append(out, st)
		}
	}
	return out
}

// TestKernelReadbackRestoresTamperedEntries runs the stats worker with the
// Kubernetes sink on the real v1 hierarchy. A volume-scope group holds three
// entries: the pod cgroup, a container cgroup and the root-level writeback
// entry. Behind the plugin's back the container's entry is removed, the
// pod's changed to another value and the root's given a knob the group does
// not set. Within two sweeps all three hold the group's limits again, the
// repairs counter says 3, and the pod has a LimitsRepaired Warning naming
// what was found.
func TestKernelReadbackRestoresTamperedEntries(t *testing.T) {
	testutil.RequireBlkioV1(t)
	parent := testutil.NewCgroupParentV1(t)
	loop := testutil.NewLoop(t, 16<<20)
	dev := throttle.Device{Major: loop.Major, Minor: loop.Minor}
	uid := testutil.PodUID(22)
	pod := testutil.MkdirCgroupV1(t, parent+"/kubepods/besteffort/pod"+uid)
	ctr := testutil.MkdirCgroupV1(t, parent+"/kubepods/besteffort/pod"+uid+"/ctr")

	var w *statsworker.Worker
	tb := throttletest.NewTable(t, throttle.Options{
		Backend: throttle.NewV1(testutil.BlkioV1, nil), KubeletCgroupRoot: parent,
		Notify: func(k throttle.Key) { w.Enqueue(k) },
	})
	rec := record.NewFakeRecorder(100)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "writer", Namespace: "team-a", UID: types.UID(uid)}}
	sink, err := NewSink(SinkOptions{Node: testNode, Kube: clientsetCore{fake.NewClientset(p)}, ThrottleGroups: newFakeTGs(), Recorder: rec, Hierarchy: testutil.BlkioV1})
	if err != nil {
		t.Fatal(err)
	}
	sweeps := &sweepCounter{}
	w = statsworker.New(tb, statsworker.Options{Interval: 300 * time.Millisecond, Sinks: []statsworker.Sink{sweeps, sink}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, 1); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	key := throttle.Key{VolumeID: "vol", PodUID: uid}
	const limit = 8 << 20
	if _, err := tb.Ensure(ctx, key, throttle.Spec{Device: dev, Scope: throttle.ScopeVolume, Limits: throttle.Limits{WriteBytesPerSecond: limit},
		Pod: throttle.PodRef{UID: uid, Name: "writer", Namespace: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tb.Remove(context.Background(), key); err != nil {
			t.Error(err)
		}
	})
	waitSweeps(t, sweeps, time.Time{}, 1)
	if n := tb.Repairs(); n != 0 {
		t.Fatalf("%d repairs before anything was touched", n)
	}

	tampered := time.Now()
	write := func(dir, file, line string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, file), []byte(line), 0); err != nil {
			t.Fatal(err)
		}
	}
	write(ctr, "blkio.throttle.write_bps_device", dev.String()+" 0")
	write(pod, "blkio.throttle.write_bps_device", dev.String()+" 1073741824")
	write(testutil.BlkioV1, "blkio.throttle.read_iops_device", dev.String()+" 5")
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(testutil.BlkioV1, "blkio.throttle.read_iops_device"), []byte(dev.String()+" 0"), 0)
	})

	after := waitSweeps(t, sweeps, tampered, 2)
	want := throttle.Limits{WriteBytesPerSecond: limit}
	for _, dir := range []string{ctr, pod, testutil.BlkioV1} {
		got, err := tb.Backend().ReadLimits(dir, dev)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s holds %s after two sweeps, want %s", dir, got, want)
		}
	}
	if n := tb.Repairs(); n != 3 {
		t.Errorf("repairs counter %d, want 3", n)
	}
	var repaired []throttle.EntryCheck
	for _, st := range after {
		repaired = append(repaired, st.Readback.Repaired...)
	}
	t.Logf("repaired: %v", repaired)
	if len(repaired) != 3 {
		t.Errorf("the sweeps report %d repaired entries, want 3: %v", len(repaired), repaired)
	}
	// The writes above may straddle a sweep: then two passes repair, and
	// each tells its own Event. Together they name all three entries.
	frags := []string{"Warning LimitsRepaired", "/kubepods/besteffort/pod" + uid + "/ctr held no limits instead of write 8Mi/s",
		"pod" + uid + " held write 1Gi/s instead of write 8Mi/s", "/ held write 8Mi/s, read 5 IOPS instead of write 8Mi/s", "restored"}
	var events []string
	repairedEvents := func() string {
		var out []string
		for _, e := range events {
			if strings.Contains(e, ReasonLimitsRepaired) {
				out = append(out, e)
			}
		}
		return strings.Join(out, "\n")
	}
	hasAll := func() bool {
		for _, f := range frags {
			if !strings.Contains(repairedEvents(), f) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !hasAll(); {
		select {
		case e := <-rec.Events:
			events = append(events, e)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("events: %q", events)
	for _, f := range frags {
		if !strings.Contains(repairedEvents(), f) {
			t.Errorf("LimitsRepaired Events %q lack %q", repairedEvents(), f)
		}
	}
	st, _ := tb.Get(key)
	if !st.Readback.Holds() || st.Readback.Repairs != 3 {
		t.Errorf("readback after repair: %+v", st.Readback)
	}
}

// waitSweeps waits (up to a minute: the machine may be loaded) until n
// passes read back after t, and returns them.
func waitSweeps(t *testing.T, c *sweepCounter, since time.Time, n int) []throttle.GroupStatus {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got := c.sweepsSince(since); len(got) >= n {
			return got[:n]
		}
	}
	t.Fatalf("fewer than %d sweeps after %s within a minute", n, since)
	return nil
}
