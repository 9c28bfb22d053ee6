#!/usr/bin/env bash
# Regenerates what controller-gen derives from pkg/apis (the ThrottleGroup
# deepcopy functions and CRD). `make generate` runs it in place; the test
# pkg/apis/blkio/v1alpha1.TestGeneratedFilesAreCurrent runs it into a
# temporary directory and fails when the checked-in files differ.
#
#   hack/generate.sh               # write into the tree
#   hack/generate.sh OBJDIR CRDDIR # write elsewhere (for the drift test)
set -euo pipefail
cd "$(dirname "$0")/.."

obj_dir=${1:-pkg/apis/blkio/v1alpha1}
crd_dir=${2:-charts/csi-blkio/files}
controller_gen=$(hack/tools/controller-gen.sh)

"$controller_gen" object paths=./pkg/apis/... output:object:dir="$obj_dir"
"$controller_gen" crd paths=./pkg/apis/... output:crd:dir="$crd_dir"
