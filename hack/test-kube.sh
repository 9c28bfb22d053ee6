#!/usr/bin/env bash
# The Kubernetes integration tier of `make test`: a real etcd 3.6 +
# kube-apiserver 1.37 on loopback (hack/cluster/with.sh apiserver, torn down
# even when a test fails), the chart's CRD and RBAC rendered with helm, and
# the tests of test/kube: csi-blkio built with -race runs as its own process
# with a token of the chart's ServiceAccount, on real loop devices and cgroup
# v1 throttling (root). Extra arguments go to `go test`, e.g. -run Lifecycle.
#
# CSI_BLKIO_DESCRIBE_OUT=docs/describe-throttlegroup.txt hack/test-kube.sh -run Lifecycle
# refreshes the `kubectl describe throttlegroup` output the README quotes.
set -euo pipefail
cd "$(dirname "$0")/.."

CSI_BLKIO_HELM=$(hack/tools/helm.sh)
export CSI_BLKIO_HELM
if [ -n "${CSI_BLKIO_DESCRIBE_OUT:-}" ]; then
	CSI_BLKIO_DESCRIBE_OUT=$(realpath -m "$CSI_BLKIO_DESCRIBE_OUT")
	export CSI_BLKIO_DESCRIBE_OUT
fi
go vet ./test/kube/
hack/cluster/with.sh apiserver go test -race -count=1 -v -timeout 20m ./test/kube/ "$@"
