//go:build v2kernel && linux

package v2kernel

import (
	"context"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/statsworker"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// startGroups returns the throttle table on the real cgroup2 mount, with
// kubelet's --cgroup-root at the tree's root, and a stats worker that
// samples its groups every 200 ms, both stopped when the test ends.
func startGroups(t *testing.T, tree kubeletTree) *throttle.Table {
	t.Helper()
	b, err := throttle.DetectBackend(cgroupRoot, nil)
	if err != nil {
		t.Fatal(err)
	}
	var w *statsworker.Worker
	table, err := throttle.NewTable(throttle.Options{
		Backend:           b,
		KubeletCgroupRoot: tree.KubeletRoot(),
		Notify:            func(k throttle.Key) { w.Enqueue(k) },
	})
	if err != nil {
		t.Fatal(err)
	}
	w = statsworker.New(table, statsworker.Options{Interval: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.Run(ctx, 1)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := table.Close(); err != nil {
			t.Error(err)
		}
	})
	return table
}

// waitForGroup polls the group's status until ok accepts it, and fails the
// test with the last status after 10 s.
func waitForGroup(t *testing.T, table *throttle.Table, key throttle.Key, what string, ok func(throttle.GroupStatus) bool) throttle.GroupStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, found := table.Get(key)
		if found && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: waited 10 s for %s; last status (found=%v): %+v", key, what, found, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
