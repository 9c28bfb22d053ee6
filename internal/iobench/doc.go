// Package iobench holds what the demo and hack/bench share to measure IO:
// a latency histogram the IO processes fill op by op, and the statistics of
// a figure measured in rounds on a busy machine (its median and range, and
// rounds whose baseline was disturbed retried or marked). It has no
// dependencies beyond the standard library, so that both sides can carry
// it into a VM or an IO child process as they are.
package iobench
