// Package iobench is the one IO and latency harness of the demo, the tests
// and hack/bench: an IO process (RunIO) that joins a container cgroup and
// does direct IO for a while, reporting totals, latency percentiles (Hist)
// and the time it waited for a CPU (ThreadRunDelay, Floor); its parent's
// side (Start, StartTogether); and the statistics of a figure measured in
// rounds on a busy machine (Rounds, Mirrored, Spread) and its verdict
// against a goal (SpreadAtMost, SpreadAtLeast, Worst). It depends on the standard
// library and golang.org/x/sys only, so that the demo's binary, a test
// binary or a VM's initramfs carry it as it is.
package iobench
