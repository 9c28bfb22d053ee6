#!/usr/bin/env bash
# Imports the images the Kubernetes storage suites start into a node's
# containerd, under the exact names e2e.test asks for:
#   e2e-test-images.sh --import SOCK --e2e-test PATH --repo-list FILE
# FILE is the KUBE_TEST_REPO_LIST the suites run with; the names come from
# `e2e.test --list-images` under it, so a new Kubernetes version's tags are
# picked up without editing this script. Only the images the storage suites
# use are provided (busybox, agnhost, nginx, glibc-dns-testing, pause); a
# test that needs another one fails on its image pull, loudly.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"

e2e_test="" repo_list=""
set -- "${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"}"
while [ $# -gt 0 ]; do
	case $1 in
	--e2e-test) e2e_test=$2; shift 2 ;;
	--repo-list) repo_list=$2; shift 2 ;;
	*) die "unknown flag $1; usage: $0 --import SOCK --e2e-test PATH --repo-list FILE" ;;
	esac
done
if [ -z "$IMPORT_SOCK" ] || [ ! -x "$e2e_test" ] || [ ! -f "$repo_list" ]; then
	die "usage: $0 --import SOCK --e2e-test PATH --repo-list FILE"
fi

busybox=$("$IMAGES_DIR/busybox.sh" --import "$IMPORT_SOCK")
agnhost=$("$IMAGES_DIR/agnhost.sh" --import "$IMPORT_SOCK")
pause=$("$IMAGES_DIR/pause.sh" --import "$IMPORT_SOCK")

# A glibc userland for the image the multi-volume tests run (upstream's
# glibc-dns-testing is Debian-based): they read and write with GNU dd
# (iflag=direct) and blockdev. The Debian rootfs of the csi-blkio image
# (debian-rootfs.sh: coreutils, util-linux) is that, as a one-layer image.
rootfs=$("$IMAGES_DIR/debian-rootfs.sh")
debian_tag=$(basename "$(dirname "$rootfs")")
debian_tag=${debian_tag#rootfs-}
build_debian() {
	image_archive --out "$1/image.tar" --ref "$IMAGE_REGISTRY/debian:$debian_tag" --cmd bash "$rootfs"
}
cached_build "image-debian-$debian_tag-$IMAGE_FORMAT" build_debian
import_image "$CACHE/image-debian-$debian_tag-$IMAGE_FORMAT/image.tar" "$IMPORT_SOCK"
debian=$IMAGE_REGISTRY/debian:$debian_tag

names=$(KUBE_TEST_REPO_LIST=$repo_list "$e2e_test" --list-images)
tagged=0
for name in $names; do
	case ${name%:*} in
	*/e2e-test-images/busybox) src=$busybox ;;
	*/e2e-test-images/agnhost) src=$agnhost ;;
	# The storage suites only run a shell script in the nginx image (the
	# "exec" test): busybox's shell does the same.
	*/e2e-test-images/nginx) src=$busybox ;;
	*/e2e-test-images/glibc-dns-testing) src=$debian ;;
	*/pause) src=$pause ;;
	*) continue ;;
	esac
	# A few names are written out in full in e2e.test and no repo list moves
	# them; the storage suites do not use those.
	case $name in csi-blkio.local/*) ;; *) continue ;; esac
	ctr --address "$IMPORT_SOCK" --namespace k8s.io images tag --force "$src" "$name" >/dev/null
	echo "$name"
	tagged=$((tagged + 1))
done
[ "$tagged" -gt 0 ] ||
	die "e2e.test --list-images named none of its storage images under csi-blkio.local; is $repo_list the repo list e2e.test reads?"
