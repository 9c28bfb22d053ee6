#!/usr/bin/env bash
# Prints the path of the ginkgo CLI, building it once into
# $CACHE/ginkgo-<version>/. It runs e2e.test as several parallel processes
# (ginkgo -p), which e2e.test alone cannot do; the CLI and the library inside
# e2e.test must be the same version, so both come from the wrapper module in
# hack/tools/e2e.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

GINKGO_VERSION=$(module_version e2e github.com/onsi/ginkgo/v2)

build_ginkgo() {
	(cd "$TOOLS_DIR/e2e" && go build -ldflags "-s -w" -o "$1/ginkgo" github.com/onsi/ginkgo/v2/ginkgo)
}

cached_build "ginkgo-$GINKGO_VERSION" build_ginkgo
echo "$CACHE/ginkgo-$GINKGO_VERSION/ginkgo"
