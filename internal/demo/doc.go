// Package demo is `csi-blkio demo`: the real node plugin started in-process
// on a temporary socket, driven through real CSI calls, with IO from a
// container cgroup of a pod cgroup laid out as kubelet lays it out, and the
// result shown against the limit. It needs no cluster: it is what a
// newcomer runs first, and it exits non-zero when the kernel did not hold
// the limit.
//
// A demo is a Scenario running on a Session. The Session owns everything
// the demo creates (the temp dir, the node, volumes, publications, cgroups,
// IO processes) and undoes it in reverse order, also after an error or a
// signal. Scenarios are registered in scenarios(); a new one needs only its
// Run function and the Session's building blocks.
package demo
