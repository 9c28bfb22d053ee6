#!/usr/bin/env bash
# Prints the path of controller-gen (sigs.k8s.io/controller-tools), built from
# the module proxy once into $CACHE. `make generate` uses it to write the
# ThrottleGroup deepcopy functions and CRD.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONTROLLER_GEN_VERSION=${CONTROLLER_GEN_VERSION:-v0.23.0}
exec hack/tools/go-install.sh controller-gen "$CONTROLLER_GEN_VERSION" \
	sigs.k8s.io/controller-tools/cmd/controller-gen
