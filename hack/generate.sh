#!/usr/bin/env bash
# Regenerates every derived file: the ThrottleGroup deepcopy functions and CRD
# (controller-gen, from pkg/apis) and the chart's README (helm-docs, from
# values.yaml and README.md.gotmpl). Both tools are built once into $CACHE.
#
#   hack/generate.sh         # write into the tree (make generate)
#   hack/generate.sh OUTDIR  # write all three files flat into OUTDIR; the
#                            # drift tests compare them with the tree
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-}
obj_dir=${out:-pkg/apis/blkio/v1alpha1}
crd_dir=${out:-charts/csi-blkio/files}
controller_gen=$(hack/tools/controller-gen.sh)
helm_docs=$(hack/tools/go-install.sh helm-docs v1.14.2 github.com/norwoodj/helm-docs/cmd/helm-docs)

"$controller_gen" object paths=./pkg/apis/... output:object:dir="$obj_dir"
"$controller_gen" crd paths=./pkg/apis/... output:crd:dir="$crd_dir"
if [ -n "$out" ]; then
	"$helm_docs" --log-level warning --chart-search-root charts --dry-run >"$out/README.md"
else
	"$helm_docs" --log-level warning --chart-search-root charts
fi
