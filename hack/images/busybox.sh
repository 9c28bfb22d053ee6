#!/usr/bin/env bash
# The busybox image for test pods: Debian's static busybox and a symlink per
# applet, plus the few files a shell expects (/etc/passwd, /tmp). Cached per
# busybox-static package version. Flags: --import SOCK, --out FILE (lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"

[ "$(id -u)" -ne 0 ] || apt_install busybox-static >&2
version=$(dpkg-query -W -f='${Version}' busybox-static)
tag=$(tag_of "${version#*:}") # without the Debian epoch

build_busybox() {
	local out=$1 root=$1/rootfs
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,root,var}
	install -d -m 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	local applet
	for applet in $("$root/bin/busybox" --list-full); do
		[ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	layer_tar "$root" "$out/layer.tar"
	rm -rf "$root"
	image_archive --out "$out/image.tar" --ref "$IMAGE_REGISTRY/busybox:$tag" --cmd sh "$out/layer.tar"
	rm "$out/layer.tar"
}

cached_build "image-busybox-$tag-$IMAGE_FORMAT" build_busybox
finish_image "$IMAGE_REGISTRY/busybox:$tag" "$CACHE/image-busybox-$tag-$IMAGE_FORMAT/image.tar"
