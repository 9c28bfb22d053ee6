#!/usr/bin/env bash
# A Debian root filesystem with the tools csi-blkio runs (mkfs.ext4,
# mkfs.xfs, losetup, blkid, fsck, mount), made by debootstrap and cached as
# one layer tar. Prints the layer tar's path; hack/images/csi-blkio.sh puts
# the csi-blkio binary on top. The cache key is the suite and package list.
# DEBIAN_MIRROR overrides the mirror (default: the one apt uses here).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE=bookworm
PACKAGES=e2fsprogs,xfsprogs,util-linux,mount
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
key=$(echo "$SUITE $PACKAGES" | sha256sum | cut -c1-12)

[ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
apt_install debootstrap >&2

build_rootfs() {
	local out=$1 root=$1/rootfs
	# debootstrap mounts /proc and /sys inside the target while it installs;
	# if it fails, unmount them before anything removes the directory.
	# shellcheck disable=SC2064 # the paths are expanded now, on purpose
	trap "grep -o \" $root/[^ ]*\" /proc/self/mounts | sort -r | xargs -r umount -l; rm -rf --one-file-system '$out'" EXIT
	debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR"
	# Package caches, docs and locales are dead weight in an image.
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
		"$root"/usr/share/{doc,man,info,locale}/* "$root"/var/log/*
	layer_tar "$root" "$out/layer.tar"
	sha256sum "$out/layer.tar" | cut -d' ' -f1 >"$out/layer.tar.sha256"
	rm -rf --one-file-system "$root"
	trap - EXIT
}

cached_build "rootfs-debian-$SUITE-$key" build_rootfs
echo "$CACHE/rootfs-debian-$SUITE-$key/layer.tar"
