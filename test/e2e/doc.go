// Package e2e holds the end-to-end tests of csi-blkio on a real single
// Kubernetes node (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, containerd, kubelet; hack/cluster/node.sh): the chart is
// installed with helm, real pods write and read through csi-blkio volumes,
// and the tests measure inside the pods what the kernel lets through.
//
// Run it with hack/e2e.sh (root): it builds the binary and the images,
// starts a node with hack/cluster/with.sh (torn down even on failure) and
// runs `go test ./test/e2e`. Without that node's environment every test
// skips, so a plain `go test ./...` passes over this package.
package e2e
