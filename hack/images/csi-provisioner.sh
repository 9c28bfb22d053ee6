#!/usr/bin/env bash
# The csi-provisioner image: the static binary built by
# hack/tools/csi-provisioner.sh as /csi-provisioner on an otherwise empty
# filesystem (it needs nothing else: in-cluster config comes from the
# service-account volume). Cached per provisioner version.
# Flags: --import SOCK, --out FILE (lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"

binary=$("$IMAGES_DIR/../tools/csi-provisioner.sh")
version=$(basename "$(dirname "$binary")") # csi-provisioner-<version>
tag=${version#csi-provisioner-}

build_provisioner_image() {
	local out=$1
	install -D -m 0755 "$binary" "$out/rootfs/csi-provisioner"
	install -d -m 1777 "$out/rootfs/tmp"
	layer_tar "$out/rootfs" "$out/layer.tar"
	rm -rf "$out/rootfs"
	image_archive --out "$out/image.tar" --ref "$IMAGE_REGISTRY/csi-provisioner:$tag" --entrypoint /csi-provisioner "$out/layer.tar"
	rm "$out/layer.tar"
}

cached_build "image-csi-provisioner-$tag-$IMAGE_FORMAT" build_provisioner_image
finish_image "$IMAGE_REGISTRY/csi-provisioner:$tag" "$CACHE/image-csi-provisioner-$tag-$IMAGE_FORMAT/image.tar"
