package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/csi-blkio/csi-blkio/internal/burst"
	"github.com/csi-blkio/csi-blkio/internal/elastic"
	"github.com/csi-blkio/csi-blkio/internal/statsworker"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// throttleCore is the group table with its stats worker and, unless
// turned off, the elastic controller.
type throttleCore struct {
	table   *throttle.Table
	backend throttle.Backend
	worker  *statsworker.Worker
	// burst runs the credit buckets of the groups that have a burst.
	burst   *burst.Controller
	elastic *elastic.Controller // nil when --elastic-period=0
	stop    func()
}

// newThrottleCore builds the table on backend and starts the stats worker
// with wo (sinks, metrics; the interval comes from o); stop ends the worker
// and the table's watcher (kernel limits stay in place for the next start).
func newThrottleCore(ctx context.Context, o Options, backend throttle.Backend, wo statsworker.Options, eo elastic.Observer) (*throttleCore, error) {
	// The worker needs the table and the table's Notify needs the worker:
	// wire Notify through a variable set before the first Ensure.
	var worker *statsworker.Worker
	table, err := throttle.NewTable(throttle.Options{
		Backend:           backend,
		KubeletCgroupRoot: o.KubeletCgroupRoot,
		AcceptUnheldV1:    o.AcceptDegradedV1Publish,
		Notify:            func(k throttle.Key) { worker.Enqueue(k) },
	})
	if err != nil {
		return nil, fmt.Errorf("throttle table: %w", err)
	}
	wo.Interval = o.StatsInterval
	worker = statsworker.New(table, wo)
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { worker.Run(wctx, 2) })
	bc := burst.New(table, burst.Options{Interval: o.BurstInterval, StateFile: filepath.Join(o.StateDir, "burst", "buckets.json")})
	wg.Go(func() { bc.Run(wctx) })
	var ec *elastic.Controller
	if o.ElasticPeriod > 0 {
		ec = elastic.New(table, elastic.SysDisks{}, elastic.Options{Period: o.ElasticPeriod, Observer: eo, Notify: worker.Enqueue, Lifter: elastic.BurstOrUnlimited{}})
		wg.Go(func() { ec.Run(wctx) })
	}
	return &throttleCore{table: table, backend: backend, worker: worker, burst: bc, elastic: ec, stop: func() {
		cancel()
		wg.Wait()
		_ = table.Close()
	}}, nil
}
