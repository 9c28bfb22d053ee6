#!/usr/bin/env bash
# The busybox image for test pods: Debian's static busybox and a symlink per
# applet, plus the few files a shell expects (/etc/passwd, /tmp). Cached per
# busybox-static package version. Flags: --import SOCK, --out FILE (lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"

tag=$(busybox_tag)

build_busybox() {
	local out=$1 root=$1/rootfs
	busybox_rootfs "$root"
	layer_tar "$root" "$out/layer.tar"
	rm -rf "$root"
	image_archive --out "$out/image.tar" --ref "$IMAGE_REGISTRY/busybox:$tag" --cmd sh "$out/layer.tar"
	rm "$out/layer.tar"
}

cached_build "image-busybox-$tag-$IMAGE_FORMAT" build_busybox
finish_image "$IMAGE_REGISTRY/busybox:$tag" "$CACHE/image-busybox-$tag-$IMAGE_FORMAT/image.tar"
