// Package reliability proves docs/reliability.md (restarts, faults, bad input) on the real
// csi-blkio binary: each test starts `csi-blkio serve` (built with -race)
// on a unix socket in t.TempDir(), talks CSI to it like the kubelet, kills
// it with SIGKILL (from outside, or from inside at a CSI_BLKIO_FAULT
// point), restarts it on the same state dir and checks real loop devices,
// mounts, cgroup v1 limits and data. Everything a test creates is named
// with testutil.Prefix, lives under its own temp dir or cgroup parent, and
// is swept in t.Cleanup. The tests need root and cgroup v1 blkio; they skip
// in -short.
package reliability
