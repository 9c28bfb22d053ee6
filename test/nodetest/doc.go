// Package nodetest holds what the end-to-end suites that run against a real
// Kubernetes node share: test/e2e (a cgroup v1 node on this host, cgroupfs
// driver) and test/e2ev2 (a cgroup v2 node on the systemd driver, inside a
// qemu VM). Both install the chart with helm, wait for the kubelet to
// register the driver, create classes, claims and pods, and read
// ThrottleGroups; what differs between the nodes (where the cgroups are,
// how fast an emulated machine answers) stays in the suites.
//
// It is a plain package, not a _test file, so that both suites can import
// it; nothing outside test/ uses it.
package nodetest
