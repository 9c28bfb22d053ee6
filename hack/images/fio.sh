#!/usr/bin/env bash
# The fio image for the end-to-end noisy-neighbour test: Debian's fio with
# the shared libraries it links (copied from this host at the same paths)
# and a static busybox for `sh`. Cached per content: the key hashes fio, its
# libraries and busybox, so a Debian update of any of them makes a new image.
# Flags: --import SOCK, --out FILE (lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"

[ "$(id -u)" -ne 0 ] || apt_install fio busybox-static >&2
fio=$(command -v fio) || die "fio is not installed (apt-get install fio)"

# libs: the absolute paths ldd resolves for fio (the loader included).
libs() { ldd "$fio" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u; }
mapfile -t files < <(libs)
[ ${#files[@]} -gt 0 ] || die "ldd found no libraries for $fio"
tag=$(cat "$fio" /bin/busybox "${files[@]}" | sha256sum | cut -c1-12)

build_fio() {
	local out=$1 root=$1/rootfs f
	mkdir -p "$root"/{bin,usr/bin,etc,dev,proc,sys,root}
	install -d -m 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$fio" "$root/usr/bin/fio"
	# Real files at the paths ldd names (symlinks resolved): the loader
	# looks them up there, and libceph-common through librados' RUNPATH.
	for f in "${files[@]}"; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	layer_tar "$root" "$out/layer.tar"
	rm -rf "$root"
	image_archive --out "$out/image.tar" --ref "$IMAGE_REGISTRY/fio:$tag" --entrypoint /usr/bin/fio "$out/layer.tar"
	rm "$out/layer.tar"
}

cached_build "image-fio-$tag-$IMAGE_FORMAT" build_fio
finish_image "$IMAGE_REGISTRY/fio:$tag" "$CACHE/image-fio-$tag-$IMAGE_FORMAT/image.tar"
