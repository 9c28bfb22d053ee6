#!/usr/bin/env bash
# The pause (sandbox) image containerd's CRI plugin starts first in every pod:
# a static build of hack/images/pause (its own module, no dependencies) as
# /pause. Cached per source content. Flags: --import SOCK, --out FILE (lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"

tag=$(cat "$IMAGES_DIR/pause/main.go" "$IMAGES_DIR/pause/go.mod" | sha256sum | cut -c1-12)

build_pause() {
	local out=$1
	mkdir -p "$out/rootfs"
	(cd "$IMAGES_DIR/pause" && go build -ldflags "-s -w" -o "$out/rootfs/pause" .)
	layer_tar "$out/rootfs" "$out/layer.tar"
	rm -rf "$out/rootfs"
	image_archive --out "$out/image.tar" --ref "$IMAGE_REGISTRY/pause:$tag" --entrypoint /pause "$out/layer.tar"
	rm "$out/layer.tar"
}

cached_build "image-pause-$tag-$IMAGE_FORMAT" build_pause
finish_image "$IMAGE_REGISTRY/pause:$tag" "$CACHE/image-pause-$tag-$IMAGE_FORMAT/image.tar"
