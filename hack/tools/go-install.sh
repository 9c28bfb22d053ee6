#!/usr/bin/env bash
# go-install.sh NAME VERSION PACKAGE [LDFLAGS]
#
# `go install PACKAGE@VERSION` once into $CACHE/NAME-VERSION/bin (cached_build
# of common.sh: built in a temporary directory, renamed into place, one build
# at a time) and prints the binary's path. For tools whose module installs as
# released, without a wrapper module: controller-gen, helm-docs, helm.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

name=$1 version=$2 pkg=$3 ldflags=${4:-}

install_tool() {
	GOBIN="$1/bin" go install -ldflags "$ldflags" "$pkg@$version"
}

cached_build "$name-$version" install_tool
echo "$CACHE/$name-$version/bin/$(basename "$pkg")"
