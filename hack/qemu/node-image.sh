#!/usr/bin/env bash
# Builds, once per recipe, the boot artefacts of the cgroup v2 node VM that
# hack/e2e-v2.sh runs, and prints the directory holding them:
#   disk.img   a Debian bookworm root filesystem (ext4, sparse) with systemd
#              as PID 1, containerd, runc, the CNI plugins and the kernel's
#              full module tree
#   vmlinux    the Debian 6.1 kernel (ELF, boots as PVH without decompressing)
#   initrd     the busybox initramfs of node-initrd.sh, which loads the virtio
#              and ext4 modules and switches to the disk's /sbin/init
#
# The image is the operating system only. Everything the tests configure
# (containerd, the kubelet, the control plane) is written on first boot by the
# run's payload, so changing that does not rebuild the image (see the cache
# key below). A run copies disk.img and never writes the cached one.
#
# DEBIAN_MIRROR overrides the mirror (default: the one apt uses here).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
source hack/lib.sh
source hack/qemu/kernel.sh
source hack/qemu/node-initrd.sh

SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What a kubelet node with the systemd cgroup driver runs: systemd (and its
# D-Bus, through which the kubelet and runc create slices and scopes), udev,
# containerd and runc, the CNI bridge plugins; the tools the driver runs
# (mkfs, blkid, losetup, mount); iproute2 for the node's dummy interface.
PACKAGES=systemd,systemd-sysv,udev,dbus,kmod,containerd,runc,containernetworking-plugins,iproute2,e2fsprogs,xfsprogs,util-linux,mount,procps
# Sparse: only what is written takes space on the host.
DISK_SIZE=8G
# Bump when what this script puts into the disk image changes: the cache key
# is the package set, the kernel, the mirror, the files of
# hack/qemu/node/image and this number (the initramfs has its own key, see
# node-initrd.sh).
NODE_IMAGE_RECIPE=2

[ "$(id -u)" -eq 0 ] || { echo "node-image: debootstrap needs root" >&2; exit 1; }
apt_install debootstrap busybox-static e2fsprogs kmod xz-utils >&2

pkg=$(kernel_package) || { apt-get update -qq >&2; pkg=$(kernel_package); }
key=$({ echo "$pkg $SUITE $MIRROR $PACKAGES $DISK_SIZE r$NODE_IMAGE_RECIPE"; cat hack/qemu/node/image/*; } | sha256sum | cut -c1-12)
out=$CACHE/qemu/node-$key
mkdir -p "$CACHE/qemu"
exec 8>"$CACHE/qemu/node-image.lock"
flock 8
if [ -f "$out/ok" ]; then
	node_initrd "$out"
	echo "$out"
	exit 0
fi
echo "node-image: building $out (kernel $pkg; debootstrap takes minutes)" >&2
tmp=$(mktemp -d "$CACHE/qemu/node-tmp.XXXXXX")
root=$tmp/root
# debootstrap mounts /proc and /sys in the target; unmount them before
# anything removes the directory, also when the build fails.
cleanup() {
	grep -o " $root/[^ ]*" /proc/self/mounts | sort -r | xargs -r umount -l || true
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >&2

# --- kernel and modules ------------------------------------------------------
name=${pkg% *} version=${pkg#* }
(cd "$tmp" && apt-get download -q "$name=$version" 2>&1 | grep -v 'unsandboxed as root' >&2) || true
deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -1)
[ -n "$deb" ] || { echo "node-image: apt-get download $name=$version produced no .deb" >&2; exit 1; }
dpkg -x "$deb" "$tmp/kernel"
kver=$(ls "$tmp/kernel/lib/modules")
# The rootfs is usr-merged (/lib -> usr/lib): copy into usr/lib, so that the
# symlink stays a symlink.
cp -a "$tmp/kernel/lib/modules" "$root/usr/lib/"
depmod -b "$root" "$kver"
extract_vmlinux "$tmp/kernel/boot/vmlinuz-$kver" "$tmp/vmlinux" ||
	{ echo "node-image: cannot unpack vmlinux from the kernel package" >&2; exit 1; }

# --- operating system settings ----------------------------------------------
echo csiblkio-test-node >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1 localhost
EOF
cat >"$root/etc/fstab" <<'EOF'
/dev/vda / ext4 defaults,errors=remount-ro 0 1
EOF
mkdir -p "$root/opt/payload"
# No password prompts, no login consoles: the VM is driven by the payload.
ln -sf /dev/null "$root/etc/systemd/system/getty@.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@.service"
# Nothing in the VM needs time sync, and it has no network to sync with.
ln -sf /dev/null "$root/etc/systemd/system/systemd-timesyncd.service"
# The payload's entry point: after boot, mounts the run's payload disk and
# runs it, printing to the serial console (hack/qemu/node/image).
install -m 0755 hack/qemu/node/image/csiblkio-payload "$root/usr/local/sbin/csiblkio-payload"
install -m 0644 hack/qemu/node/image/csiblkio-payload.service "$root/etc/systemd/system/"
ln -sf /etc/systemd/system/csiblkio-payload.service \
	"$root/etc/systemd/system/multi-user.target.wants/csiblkio-payload.service"
# containerd starts when the payload has configured it, not at boot.
rm -f "$root/etc/systemd/system/multi-user.target.wants/containerd.service"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
	"$root"/usr/share/{doc,man,info,locale}/*

# --- disk image ----------------------------------------------------------------
# mke2fs -d copies the tree (owners, modes, device nodes, xattrs) into a new
# filesystem without mounting anything on the host.
grep -o " $root/[^ ]*" /proc/self/mounts | sort -r | xargs -r umount -l || true
mkdir -p "$tmp/out"
mke2fs -q -t ext4 -L csiblkio-root -d "$root" "$tmp/out/disk.img" "$DISK_SIZE"
mv "$tmp/vmlinux" "$tmp/out/vmlinux"

echo "$pkg" >"$tmp/out/kernel"
node_initrd "$tmp/out"
touch "$tmp/out/ok"
# Keep one image: drop those of older recipes.
find "$CACHE/qemu" -mindepth 1 -maxdepth 1 -type d -name 'node-*' ! -name 'node-tmp.*' -exec rm -rf {} + 2>/dev/null || true
mv "$tmp/out" "$out"
echo "node-image: built $out" >&2
echo "$out"
