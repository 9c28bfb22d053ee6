// Package kube is the Kubernetes integration tier: the csi-blkio binary,
// built with -race, runs as its own process with a token of the chart's
// ServiceAccount under the chart's RBAC, against a real etcd +
// kube-apiserver (hack/cluster), on real loop devices and real cgroup v1
// throttling, and the tests drive it over its CSI socket as the kubelet
// would.
//
// Run it with the README's test command (`make test`), or alone:
//
//	hack/test-kube.sh              # apiserver up, this tier, apiserver down
//
// Without an apiserver (plain `go test ./...`) every test skips, saying so.
package kube
