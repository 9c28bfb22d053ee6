package main

import (
	"flag"

	"github.com/csi-blkio/csi-blkio/internal/kube"
)

// WriteBudget sizes the node's apiserver write budget (kube.WriteBudget):
// ThrottleGroup creates and status patches and the plugin's Events.
type WriteBudget struct {
	// PerSecond is the steady-state rate of writes per node.
	PerSecond float64
	// Burst is how many writes may go at once after a quiet spell.
	Burst int
}

// DefaultWriteBudget keeps 5,000 nodes under 1,000 writes/s (see
// kube.DefaultBudgetPerSecond).
func DefaultWriteBudget() WriteBudget {
	return WriteBudget{PerSecond: kube.DefaultBudgetPerSecond, Burst: kube.DefaultBudgetBurst}
}

func (b *WriteBudget) addFlags(fs *flag.FlagSet) {
	fs.Float64Var(&b.PerSecond, "apiserver-writes-per-second", b.PerSecond,
		"steady-state apiserver writes (ThrottleGroup creates and status, Events) per second from this node; the fleet's load is nodes x this")
	fs.IntVar(&b.Burst, "apiserver-write-burst", b.Burst, "apiserver writes this node may make at once after a quiet spell")
}

func (b *WriteBudget) validate(bad func(flag, format string, args ...any)) {
	if b.PerSecond <= 0 {
		bad("apiserver-writes-per-second", "%g must be positive (0.15 keeps 5,000 nodes at 750 writes/s)", b.PerSecond)
	}
	if b.Burst < 2 {
		bad("apiserver-write-burst", "%d must be at least 2 (half the burst is kept for phase and condition changes)", b.Burst)
	}
}
