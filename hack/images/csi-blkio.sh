#!/usr/bin/env bash
# The csi-blkio image: the cached base layer of plugin-rootfs.sh (of a
# Debian rootfs, only the filesystem tools the plugin runs and the libraries
# they load, ~6 MB) plus a layer with the given binary at
# /usr/local/bin/csi-blkio (its entrypoint).
#   csi-blkio.sh --binary PATH [--tag TAG] [--import SOCK] [--out FILE]
# TAG defaults to the binary's sha256 prefix, so every new binary is a new
# image and a kubelet never runs a stale one. Not cached: the tar is written
# to a temporary directory, imported and/or copied, and removed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"

binary="" tag=""
set -- "${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"}"
while [ $# -gt 0 ]; do
	case $1 in
	--binary) binary=$2; shift 2 ;;
	--tag) tag=$2; shift 2 ;;
	*) die "unknown flag $1; usage: $0 --binary PATH [--tag TAG] [--import SOCK] [--out FILE]" ;;
	esac
done
[ -n "$binary" ] || die "--binary PATH is required"
[ -f "$binary" ] || die "$binary: no such file"
[ -n "$IMPORT_SOCK$OUT_FILE" ] || die "nothing to do: give --import SOCK and/or --out FILE"
[ -n "$tag" ] || tag=$(sha256sum "$binary" | cut -c1-12)
ref=$IMAGE_REGISTRY/csi-blkio:$tag

base=$("$IMAGES_DIR/plugin-rootfs.sh")
work=$(mktemp -d "$CACHE/.image-csi-blkio.XXXXXX")
trap 'rm -rf "$work"' EXIT
install -D -m 0755 "$binary" "$work/rootfs/usr/local/bin/csi-blkio"
layer_tar "$work/rootfs" "$work/layer.tar"
image_archive --out "$work/image.tar" --ref "$ref" --entrypoint /usr/local/bin/csi-blkio "$base" "$work/layer.tar"
finish_image "$ref" "$work/image.tar"
