#!/usr/bin/env bash
# The csi-resizer image: the static binary built by
# hack/tools/csi-resizer.sh as /csi-resizer on an otherwise empty
# filesystem (it needs nothing else: in-cluster config comes from the
# service-account volume). Cached per resizer version.
# Flags: --import SOCK, --out FILE (lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"

binary=$("$IMAGES_DIR/../tools/csi-resizer.sh")
version=$(basename "$(dirname "$binary")") # csi-resizer-<version>
tag=${version#csi-resizer-}

build_resizer_image() {
	local out=$1
	install -D -m 0755 "$binary" "$out/rootfs/csi-resizer"
	install -d -m 1777 "$out/rootfs/tmp"
	layer_tar "$out/rootfs" "$out/layer.tar"
	rm -rf "$out/rootfs"
	write_docker_archive "$out/image.tar" "$IMAGE_REGISTRY/csi-resizer:$tag" '["/csi-resizer"]' null "$out/layer.tar"
	rm "$out/layer.tar"
}

cached_build "image-csi-resizer-$tag" build_resizer_image
finish_image "$IMAGE_REGISTRY/csi-resizer:$tag" "$CACHE/image-csi-resizer-$tag/image.tar"
