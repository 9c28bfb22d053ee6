// Package e2ev2 is the end-to-end suite of a cgroup v2 node on the systemd
// cgroup driver. It runs inside the qemu VM that hack/e2e-v2.sh boots (the
// test binary, built with -tags e2ev2, sits on the VM's payload disk), as
// root on the node itself: it reads io.max and io.stat of the slices the
// kubelet made and drives systemd, and talks to the VM's own apiserver for
// pods and ThrottleGroups. Outside the VM it has nothing to test and skips.
//
// The VM boots twice from one disk. The first boot (phase "first") runs
// TestNode, which leaves its pods and volumes in place; the second (phase
// "reboot") runs TestAfterReboot, which checks that the kubelet restaged and
// republished them and that the limits are back in io.max.
package e2ev2
