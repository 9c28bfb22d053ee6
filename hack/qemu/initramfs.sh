# shellcheck shell=bash
# Builds the VM's initramfs in two parts. Source it (after hack/lib.sh and
# hack/qemu/kernel.sh); it defines qemu_base_initramfs and qemu_run_initramfs.
#
# The base part (busybox, kernel modules, the host's filesystem tools with
# their shared libraries) changes only with the kernel or a Debian package, so
# it is cached under $CACHE keyed by those versions. The run part (/init and
# the test binaries) is rebuilt on every run. The kernel unpacks concatenated
# cpio archives one after the other, so the two are simply joined.

# Host programs the driver or mount-utils run (mkfs.<fs>, fsck, blkid, mount,
# umount, resize2fs, xfs_growfs, blockdev, losetup). busybox has some of them,
# but not blkid, and mount-utils parses the real tools' output, so the VM gets
# the same binaries the host has, with the libraries ldd names.
QEMU_HOST_TOOLS=(
	/usr/sbin/mke2fs /usr/sbin/mkfs.ext4 /usr/sbin/e2fsck /usr/sbin/fsck.ext4 /usr/sbin/resize2fs
	/usr/sbin/mkfs.xfs /usr/sbin/fsck.xfs /usr/sbin/xfs_repair /usr/sbin/xfs_growfs
	/usr/sbin/fsck /usr/sbin/blkid /usr/sbin/losetup /usr/sbin/blockdev
	/usr/bin/mount /usr/bin/umount /usr/bin/findmnt
)
QEMU_HOST_PACKAGES=(busybox-static e2fsprogs xfsprogs util-linux mount)

# base_key prints what the base part depends on; its hash names the cache file.
base_key() {
	local kernel_dir=$1
	cat "$kernel_dir/package"
	dpkg-query -W -f='${Package} ${Version}\n' "${QEMU_HOST_PACKAGES[@]}"
	printf '%s\n' "${QEMU_MODULES[@]}" "${QEMU_HOST_TOOLS[@]}"
	# This file is the recipe: a change to it is a new base.
	cat "${BASH_SOURCE[0]}"
}

# qemu_base_initramfs KERNEL_DIR prints the path of the cached base archive,
# building it first if needed.
qemu_base_initramfs() {
	local kernel_dir=$1 key
	key=$(base_key "$kernel_dir" | sha256sum | cut -c1-16)
	local out="$CACHE/qemu/base-$key.cpio.gz"
	if [ -f "$out" ]; then
		touch "$out" # marks it in use for the clean-up below
		echo "$out"
		return 0
	fi
	echo "building the base initramfs $out" >&2
	local root
	root=$(mktemp -d "$CACHE/qemu/tmp.XXXXXX")
	# The usr-merged layout of the host, so that ldd's /lib paths land in usr/lib.
	mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,tmp,run,mnt,var/lib}
	ln -s usr/bin "$root/bin"
	ln -s usr/sbin "$root/sbin"
	ln -s usr/lib "$root/lib"
	ln -s usr/lib64 "$root/lib64"

	local tool lib
	for tool in "${QEMU_HOST_TOOLS[@]}"; do
		[ -e "$tool" ] || {
			echo "host tool $tool is missing (packages: ${QEMU_HOST_PACKAGES[*]})" >&2
			rm -rf "$root"
			return 1
		}
		cp -L "$tool" "$root$tool"
		if head -c4 "$tool" | grep -q 'ELF'; then
			for lib in $(ldd "$tool" | grep -o '/[^ ]*'); do
				[ -e "$root$lib" ] && continue
				mkdir -p "$(dirname "$root$lib")"
				cp -L "$lib" "$root$lib"
			done
		fi
	done
	cp /etc/mke2fs.conf "$root/etc/" 2>/dev/null || true
	: >"$root/etc/fstab"
	ln -s /proc/self/mounts "$root/etc/mtab"

	# busybox for the shell and everything else, without shadowing the tools above.
	cp "$(command -v busybox)" "$root/usr/bin/busybox"
	local applet target
	for applet in $(busybox --list-full); do
		target="$root/usr/${applet#usr/}"
		[ -e "$target" ] || ln -s /usr/bin/busybox "$target"
	done

	local mdir="$root/lib/modules"
	mkdir -p "$mdir"
	cp "$kernel_dir"/modules/*.ko "$kernel_dir/modules/order" "$mdir/"

	# A temp name of its own: two checkouts may build the same key at once.
	local tmp
	tmp=$(mktemp "$out.XXXXXX.tmp")
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null) |
		gzip -6 >"$tmp"
	mv "$tmp" "$out"
	rm -rf "$root"
	# Bases of other keys are dead weight only when nobody uses them: another
	# checkout of the project on this machine (an older branch) may be about to
	# read its own. A base unused for a week goes.
	find "$CACHE/qemu" -maxdepth 1 -name 'base-*.cpio.gz' ! -path "$out" -mtime +7 -delete
	echo "$out"
}

# qemu_run_initramfs INIT TESTDIR BINDIR OUT writes the run part: /init,
# /tests/*.test and the project's programs from BINDIR in /usr/local/bin.
# It stays uncompressed: it changes every run and is small.
qemu_run_initramfs() {
	local init=$1 testdir=$2 bindir=$3 out=$4 root
	root=$(mktemp -d)
	mkdir -p "$root/tests" "$root/usr/local/bin"
	cp "$init" "$root/init"
	chmod 0755 "$root/init"
	cp "$testdir"/*.test "$root/tests/"
	cp -r "$bindir"/. "$root/usr/local/bin/"
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null) >"$out"
	rm -rf "$root"
}

# qemu_join_initramfs PART... writes the parts as one initrd on stdout. The
# kernel looks for a cpio header only at offsets that are a multiple of 4 and
# skips zero bytes between archives, so each part is padded to 4 bytes: a gzip
# stream of odd length followed by a raw cpio is otherwise read as a second
# compressed stream ("invalid magic at start of compressed archive").
qemu_join_initramfs() {
	local part size
	for part in "$@"; do
		cat "$part"
		size=$(stat -c %s "$part")
		head -c $(((4 - size % 4) % 4)) /dev/zero
	done
}
