#!/usr/bin/env bash
# The Helm chart tier of `make test`: builds helm once (hack/tools/helm.sh),
# then runs the chart tests (build tag `chart`, package test/helm) against a
# real etcd + kube-apiserver that hack/cluster/with.sh starts (built once,
# cached) and always stops: helm lint --strict of every values variant,
# `helm template` output decoded into the API types and checked, values-schema
# rejections, the README's values table against helm-docs, the flags against
# the real csi-blkio binary, and helm install/upgrade/uninstall on the server.
set -euo pipefail
cd "$(dirname "$0")/.."

CSI_BLKIO_HELM=$(hack/tools/helm.sh)
export CSI_BLKIO_HELM
"$CSI_BLKIO_HELM" version --short
go vet -tags chart ./test/helm/
hack/cluster/with.sh apiserver go test -race -count=1 -tags chart ./test/helm/ "$@"
