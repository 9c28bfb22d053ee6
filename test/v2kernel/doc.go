// Package v2kernel holds the tests that run inside a VM booted with a real
// cgroup v2 kernel (hack/qemu/run.sh): the machines we develop on are cgroup
// v1 for IO, so io.max and io.stat can only be exercised for real there.
//
// The tests carry the build tag v2kernel and are built as static binaries
// (CGO_ENABLED=0 go test -c -tags v2kernel). Outside the VM they skip; inside
// it (CSI_BLKIO_V2KERNEL=1, set by the VM's /init) a missing kernel facility
// fails them, because there a skip would hide a broken harness.
package v2kernel
