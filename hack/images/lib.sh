# shellcheck shell=bash
# Helpers for hack/images/*.sh: container images without a registry. Source it.
#
# An image's layers are tars of a root directory made here (layer_tar); the
# image itself (config, digests, manifest) is assembled into a docker-archive
# tar (the `docker save` layout) by hack/tools/image-archive, a small Go tool
# on go-containerregistry, and imported with `ctr images import` into the
# k8s.io namespace of a given containerd socket, where the CRI plugin (and
# so the kubelet) sees it.
# Images are named csi-blkio.local/<name>:<tag>; pods must use
# imagePullPolicy: Never (or IfNotPresent) since nothing can be pulled.

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tools/common.sh
source "$IMAGES_DIR/../tools/common.sh"
# shellcheck disable=SC2034 # used by the image scripts that source this file
IMAGE_REGISTRY=csi-blkio.local
# The image tool, built once per version of its source. Cached images are
# keyed by it and by the recipe, this file and the image's own script
# (IMAGE_FORMAT): a changed recipe rebuilds them once, so that a machine with
# a warm cache runs the same images as a fresh one.
IMAGE_ARCHIVE=$("$IMAGES_DIR/../tools/image-archive.sh")
IMAGE_FORMAT=$(basename "$(dirname "$IMAGE_ARCHIVE")")
# shellcheck disable=SC2034 # used by the image scripts that source this file
IMAGE_FORMAT=${IMAGE_FORMAT#image-archive-}-$(cat "${BASH_SOURCE[0]}" "$0" | sha256sum | cut -c1-8)

die() { echo "error: $*" >&2; exit 1; }

# layer_tar ROOTFS OUT: a reproducible layer tar of directory ROOTFS (sorted,
# owned by root, fixed mtime), so an unchanged rootfs gives the same digest
# and containerd stores the layer once. --xattrs makes the tar a pax one,
# whose extended headers would carry each file's atime and ctime (the
# time it was unpacked here): those are dropped.
layer_tar() {
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
		--xattrs --xattrs-include='security.capability' \
		--pax-option=delete=atime,delete=ctime \
		-C "$1" -cf "$2" .
}

# image_archive --out FILE --ref REF [--entrypoint ARG]... [--cmd ARG]... LAYER...:
# writes the image REF with the given layer tars (lowest first) to FILE as a
# docker-archive tar. The config, digests and manifest come from
# go-containerregistry (hack/tools/image-archive, internal/imagearchive).
image_archive() {
	"$IMAGE_ARCHIVE" "$@"
}

# import_image TAR SOCK: imports TAR into containerd at SOCK (namespace k8s.io).
import_image() {
	ctr --address "$2" --namespace k8s.io images import "$1" >&2
}

# Options every image script takes (parse_image_flags sets them):
#   --import SOCK  import the image into containerd at SOCK
#   --out FILE     also copy the docker-archive tar to FILE
# and the script prints the image reference on stdout.
IMPORT_SOCK=""
OUT_FILE=""
EXTRA_FLAGS=() # flags the calling script handles itself

# parse_image_flags ARG...: sets IMPORT_SOCK and OUT_FILE, collects the rest
# in EXTRA_FLAGS.
parse_image_flags() {
	while [ $# -gt 0 ]; do
		case $1 in
		--import) IMPORT_SOCK=$2; shift 2 ;;
		--out) OUT_FILE=$2; shift 2 ;;
		*) EXTRA_FLAGS+=("$1"); shift ;;
		esac
	done
}

# finish_image REF TAR: imports and copies TAR as the flags asked, prints REF.
finish_image() {
	[ -z "$IMPORT_SOCK" ] || import_image "$2" "$IMPORT_SOCK"
	[ -z "$OUT_FILE" ] || cp "$2" "$OUT_FILE"
	echo "$1"
}

# tag_of STRING: STRING made a valid image tag ([A-Za-z0-9_.-], max 128).
tag_of() {
	local t=${1//[^A-Za-z0-9_.-]/_}
	echo "${t:0:128}"
}

# busybox_tag: the version of Debian's busybox-static (installed first when
# running as root) made an image tag, without the Debian epoch.
busybox_tag() {
	[ "$(id -u)" -ne 0 ] || apt_install busybox-static >&2
	local version
	version=$(dpkg-query -W -f='${Version}' busybox-static)
	tag_of "${version#*:}"
}

# busybox_rootfs ROOT: Debian's static busybox in ROOT with a symlink per
# applet, plus the few files a shell expects (/etc/passwd and /etc/group
# with root and nobody, a sticky /tmp). It is the busybox image and the base
# of the agnhost image.
busybox_rootfs() {
	local root=$1 applet
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,root,var}
	install -d -m 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for applet in $("$root/bin/busybox" --list-full); do
		[ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

# sidecar_image NAME: the image of the Kubernetes CSI sidecar NAME that
# hack/tools/NAME.sh builds: its static binary as /NAME on an otherwise
# empty filesystem (it needs nothing else: in-cluster config comes from the
# service-account volume), tagged with the sidecar's version. Cached per
# version and image format; prints the reference as finish_image does.
sidecar_image() {
	local name=$1 binary version tag
	binary=$("$IMAGES_DIR/../tools/$name.sh")
	version=$(basename "$(dirname "$binary")") # <name>-<version>
	tag=${version#"$name"-}
	cached_build "image-$name-$tag-$IMAGE_FORMAT" build_sidecar_image "$name" "$tag" "$binary"
	finish_image "$IMAGE_REGISTRY/$name:$tag" "$CACHE/image-$name-$tag-$IMAGE_FORMAT/image.tar"
}

# build_sidecar_image OUT NAME TAG BINARY: cached_build's step of sidecar_image.
build_sidecar_image() {
	local out=$1 name=$2 tag=$3 binary=$4
	install -D -m 0755 "$binary" "$out/rootfs/$name"
	install -d -m 1777 "$out/rootfs/tmp"
	layer_tar "$out/rootfs" "$out/layer.tar"
	rm -rf "$out/rootfs"
	image_archive --out "$out/image.tar" --ref "$IMAGE_REGISTRY/$name:$tag" --entrypoint "/$name" "$out/layer.tar"
	rm "$out/layer.tar"
}
