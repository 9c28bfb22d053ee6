#!/usr/bin/env bash
# Prints the path of image-archive (hack/tools/image-archive on
# internal/imagearchive): the Go tool hack/images assembles docker-archive
# tars with. Built from this module once per version of its source and
# go.sum into $CACHE (~1 min cold, then instant).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

repo=$(cd "$TOOLS_DIR/../.." && pwd)
key=$(cd "$repo" && cat hack/tools/image-archive/*.go internal/imagearchive/*.go go.sum | sha256sum | cut -c1-12)

build_image_archive() {
	(cd "$repo" && go build -o "$1/image-archive" ./hack/tools/image-archive)
}

cached_build "image-archive-$key" build_image_archive
echo "$CACHE/image-archive-$key/image-archive"
