#!/usr/bin/env bash
# Prints the path of controller-gen (sigs.k8s.io/controller-tools), built from
# the module proxy once into $CACHE. hack/generate.sh (make generate) uses it
# to write the ThrottleGroup deepcopy functions and CRD.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/go-install.sh" controller-gen v0.23.0 \
	sigs.k8s.io/controller-tools/cmd/controller-gen
