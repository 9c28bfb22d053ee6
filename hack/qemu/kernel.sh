# shellcheck shell=bash
# Fetches a Debian 6.1 kernel into $CACHE once per package version. Source it
# (after hack/lib.sh); it defines qemu_kernel.
#
# Why Debian's kernel: the machines are Debian bookworm, their package archive is
# the one registry we reach for binaries, and its 6.1 kernel has blk-throttle,
# the io and memory controllers and cgroup writeback built in. loop, ext4 and xfs
# are modules, which the initramfs loads itself (the .deb ships no modules.dep).

# Modules in load order. Each module's hard dependencies (the depends= field of
# its .modinfo) must come earlier; qemu_kernel checks that, so a new kernel
# whose dependencies moved fails loudly here instead of in the VM. The soft
# dependency of jbd2/ext4/libcrc32c on the "crc32c" crypto algorithm is served
# by crc32c_generic.
QEMU_MODULES=(loop crc16 mbcache crc32c_generic jbd2 ext4 libcrc32c xfs)

# Bump when what qemu_kernel puts into the cache changes, so that caches made
# by an older recipe are rebuilt.
QEMU_KERNEL_RECIPE=2

# kernel_package prints "NAME VERSION" of the kernel to use: the package that
# Debian's linux-image-amd64 meta package points at (or $CSI_BLKIO_QEMU_KERNEL,
# e.g. linux-image-6.1.0-56-amd64).
kernel_package() {
	local name=${CSI_BLKIO_QEMU_KERNEL:-} version
	if [ -z "$name" ]; then
		name=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
	fi
	if [ -z "$name" ] || ! version=$(apt-cache policy "$name" 2>/dev/null | awk '/Candidate:/ {print $2}') ||
		[ -z "$version" ] || [ "$version" = "(none)" ]; then
		return 1
	fi
	case $name in
	linux-image-6.1.*-amd64) ;;
	*) echo "warning: $name is not a Debian 6.1 kernel; the v2 tier was measured on 6.1" >&2 ;;
	esac
	echo "$name $version"
}

# extract_vmlinux BZIMAGE OUT unpacks the kernel ELF from a bzImage. Under
# emulation the kernel's own xz decompressor takes seconds of every boot;
# qemu boots an ELF with a PVH entry note directly (CONFIG_PVH), so we
# decompress once on the host and cache the result.
extract_vmlinux() {
	local off
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -1 | cut -d: -f1)
	[ -n "$off" ] || return 1
	# xz stops reading after the stream; tail may then die of SIGPIPE, which
	# says nothing about the result: only xz's status counts.
	{ tail -c +$((off + 1)) "$1" || true; } | xz -dc --single-stream >"$2" || return 1
	[ "$(head -c4 "$2" | tr -d '\177')" = ELF ] || { rm -f "$2"; return 1; }
}

# qemu_kernel prints the cache directory holding vmlinuz (and vmlinux when the
# kernel can boot as PVH), modules/*.ko and modules/order for the current kernel package, downloading it if needed.
qemu_kernel() {
	local pkg
	if ! pkg=$(kernel_package); then
		# A fresh machine may have no package lists yet.
		apt-get update -qq >&2
		pkg=$(kernel_package) || {
			echo "cannot find a Debian kernel package (apt-cache depends linux-image-amd64)" >&2
			return 1
		}
	fi
	local name=${pkg% *} version=${pkg#* }
	local dir="$CACHE/qemu/kernel/${name}_${version}_r$QEMU_KERNEL_RECIPE"
	if [ -f "$dir/ok" ]; then
		echo "$dir"
		return 0
	fi
	echo "fetching kernel $name $version into $dir" >&2
	local tmp
	mkdir -p "$CACHE/qemu"
	tmp=$(mktemp -d "$CACHE/qemu/tmp.XXXXXX")
	# apt-get download writes into the working directory; the _apt user cannot
	# enter a private temp dir, so apt warns and downloads as root: harmless.
	(cd "$tmp" && apt-get download -q "$name=$version" 2>&1 | grep -v 'unsandboxed as root' >&2) || true
	local debs deb
	debs=("$tmp"/*.deb)
	deb=${debs[0]}
	if [ ! -f "$deb" ]; then
		echo "apt-get download $name=$version produced no .deb" >&2
		rm -rf "$tmp"
		return 1
	fi
	dpkg -x "$deb" "$tmp/x"
	mkdir -p "$tmp/out/modules"
	cp "$tmp"/x/boot/vmlinuz-* "$tmp/out/vmlinuz"
	if grep -qx 'CONFIG_PVH=y' "$tmp"/x/boot/config-*; then
		extract_vmlinux "$tmp/out/vmlinuz" "$tmp/out/vmlinux" ||
			echo "warning: could not unpack vmlinux; booting the compressed kernel (slower)" >&2
	fi
	local m f deps d
	for m in "${QEMU_MODULES[@]}"; do
		f=$(find "$tmp"/x/lib/modules -name "$m.ko" | head -1)
		if [ -z "$f" ]; then
			echo "kernel $name has no module $m.ko" >&2
			rm -rf "$tmp"
			return 1
		fi
		deps=$(busybox strings "$f" | sed -n 's/^depends=//p' | tr ',' ' ')
		for d in $deps; do
			if ! grep -qx "$d" "$tmp/out/modules/order" 2>/dev/null; then
				echo "kernel $name: module $m depends on $d, which QEMU_MODULES does not load before it" >&2
				rm -rf "$tmp"
				return 1
			fi
		done
		cp "$f" "$tmp/out/modules/$m.ko"
		echo "$m" >>"$tmp/out/modules/order"
	done
	echo "$name $version" >"$tmp/out/package"
	touch "$tmp/out/ok"
	# Keep one kernel: drop those of other package versions.
	find "$CACHE/qemu/kernel" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} + 2>/dev/null || true
	mkdir -p "$CACHE/qemu/kernel"
	mv "$tmp/out" "$dir"
	rm -rf "$tmp"
	echo "$dir"
}
