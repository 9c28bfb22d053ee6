#!/usr/bin/env bash
# The Helm chart tier of `make test`: builds helm once (hack/tools/helm.sh),
# then runs the chart tests (build tag `chart`, package test/helm): helm lint
# --strict of every values variant, `helm template` output decoded into the
# API types and checked, values-schema rejections, the README's values table
# against helm-docs, and install/upgrade/uninstall against a real apiserver.
set -euo pipefail
cd "$(dirname "$0")/.."

CSI_BLKIO_HELM=$(hack/tools/helm.sh)
export CSI_BLKIO_HELM
"$CSI_BLKIO_HELM" version --short
go vet -tags chart ./test/helm/
go test -race -count=1 -tags chart ./test/helm/ "$@"
