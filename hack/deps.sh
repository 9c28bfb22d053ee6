#!/usr/bin/env bash
# Installs the Debian packages every test tier needs (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh
if [ "$(id -u)" -ne 0 ]; then
	echo "not root: skipping package installation (kernel tiers will skip too)"
	exit 0
fi
# One transaction for every tier, before any of them runs: the scripts of the
# tiers name what they use too (so each also runs alone), and find it here.
# make test builds the VM tier's image in the background beside the other
# tiers; nothing should then need apt at the same time as it.
packages=(
	e2fsprogs xfsprogs util-linux mount gcc libc6-dev strace shellcheck # unit, kernel, lint
	openssl curl iproute2 fio busybox-static                            # apiserver, images, bench
	containerd runc containernetworking-plugins                         # the kubelet node
	qemu-system-x86 xz-utils debootstrap kmod                           # the VMs and their images
)
apt_install "${packages[@]}"
