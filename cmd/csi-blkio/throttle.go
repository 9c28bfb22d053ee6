package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/csi-blkio/csi-blkio/pkg/statsworker"
	"github.com/csi-blkio/csi-blkio/pkg/throttle"
)

// throttleCore is the group table with its stats worker.
type throttleCore struct {
	table   *throttle.Table
	backend throttle.Backend
	stop    func()
}

// newThrottleCore detects the cgroup backend under o.CgroupRoot, builds the
// table and starts the stats worker; stop ends the worker and the table's
// watcher (kernel limits stay in place for the next start).
func newThrottleCore(ctx context.Context, o Options) (*throttleCore, error) {
	backend, err := throttle.DetectBackend(o.CgroupRoot, nil)
	if err != nil {
		return nil, err
	}
	// The worker needs the table and the table's Notify needs the worker:
	// wire Notify through a variable set before the first Ensure.
	var worker *statsworker.Worker
	table, err := throttle.NewTable(throttle.Options{
		Backend:           backend,
		KubeletCgroupRoot: o.KubeletCgroupRoot,
		Notify:            func(k throttle.Key) { worker.Enqueue(k) },
	})
	if err != nil {
		return nil, fmt.Errorf("throttle table: %w", err)
	}
	worker = statsworker.New(table, statsworker.Options{Interval: o.StatsInterval})
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { worker.Run(wctx, 2) })
	return &throttleCore{table: table, backend: backend, stop: func() {
		cancel()
		wg.Wait()
		_ = table.Close()
	}}, nil
}
