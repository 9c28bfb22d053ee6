#!/usr/bin/env bash
# The base layer of the csi-blkio image: from the Debian rootfs that
# debian-rootfs.sh makes, only the programs the plugin runs (listed in
# plugin-rootfs.keep), the symlinks that name them, the interpreter of a
# script among them, the shared libraries they load (resolved by the
# rootfs's own loader and ld.so.cache, not this host's), the loader, the
# /etc files they read, and an empty /tmp. Prints the layer tar's path;
# hack/images/csi-blkio.sh puts the binary on top.
#
# Why not the whole rootfs: it is ~167 MB (python, perl, libicu, apt, dpkg,
# ...) of which the plugin runs ~3 MB. Every node that imports the image
# unpacks all of it, and under software emulation (the cgroup v2 VM tier)
# that costs minutes; a production image should also carry nothing it does
# not run. Debian's packages stay the source of the files: the tools are
# Debian's builds, reproducible from the package list.
#
# Every call (cached or not) proves the layer: each kept program exists, the
# loader resolves all its libraries inside the layer, and it starts there
# (chroot). A failure names the program and what is missing. Needs root.
# `plugin-rootfs.sh --check DIR` runs that check alone on an unpacked layer.
# The cache key is the Debian layer's digest (so its package list), the
# keep-list and this script.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP_LIST=$IMAGES_DIR/plugin-rootfs.keep
LOADER=/lib64/ld-linux-x86-64.so.2

# keep_list: the keep-list's lines without comments and blank lines.
keep_list() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$KEEP_LIST"; }

# resolve ROOT PATH: PATH inside ROOT with every symlink followed, as
# readlink -f would inside a chroot: an absolute link target is taken from
# ROOT, never from this host (Debian's loader link /lib64/ld-linux-x86-64.so.2
# is absolute). Works on a layer that has no readlink of its own.
resolve() {
	local root=$1 rest=${2#/} done="" comp target hops=0
	while [ -n "$rest" ]; do
		comp=${rest%%/*}
		if [ "$comp" = "$rest" ]; then rest=""; else rest=${rest#*/}; fi
		case $comp in
		"" | .) continue ;;
		..) done=${done%/*}; continue ;;
		esac
		if [ -L "$root$done/$comp" ]; then
			hops=$((hops + 1))
			[ "$hops" -lt 40 ] || die "$2: too many levels of symlinks"
			target=$(readlink "$root$done/$comp")
			case $target in /*) done="" ;; esac
			rest=${target#/}${rest:+/$rest}
		else
			done=$done/$comp
		fi
	done
	echo "${done:-/}"
}

# path_chain ROOT PATH: PATH and every symlink hop from it to a real file,
# each as a path relative to ROOT whose directories are real directories
# (the top-level /bin, /sbin, /lib, /lib64 are links into /usr in Debian),
# so that a tar of them extracts each entry where the links lead.
path_chain() {
	local root=$1 p=$2 dir target hops=0
	while :; do
		dir=$(resolve "$root" "$(dirname "$p")")
		p=${dir%/}/$(basename "$p")
		[ -e "$root$p" ] || [ -L "$root$p" ] || die "$2: $p is not in the Debian rootfs"
		echo "${p#/}"
		[ -L "$root$p" ] || return 0
		target=$(readlink "$root$p")
		case $target in /*) p=$target ;; *) p=${dir%/}/$target ;; esac
		hops=$((hops + 1))
		[ "$hops" -lt 40 ] || die "$2: too many levels of symlinks"
	done
}

# is_elf FILE: whether FILE starts with the ELF magic.
is_elf() { [ "$(head -c4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

# needed_files ROOT PROG: what PROG needs to start, as absolute paths in
# ROOT: for an ELF program its libraries and the loader, as the loader in
# ROOT resolves them (ldd there); for a script its interpreter.
needed_files() {
	local root=$1 prog=$2 real out
	real=$(resolve "$root" "$prog")
	if is_elf "$root$real"; then
		out=$(chroot "$root" /usr/bin/ldd "$real") || die "ldd $prog in the Debian rootfs: $out"
		if grep -q 'not found' <<<"$out"; then
			die "$prog: libraries not found in the Debian rootfs: $(grep 'not found' <<<"$out" | tr -s '\t\n' '  ')"
		fi
		awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out"
	elif [ "$(head -c2 "$root$real")" = '#!' ]; then
		head -n1 "$root$real" | sed 's/^#![[:space:]]*//' | awk '{print $1}'
	else
		die "$prog: neither an ELF program nor a script"
	fi
}

# verify ROOT: every kept program is in ROOT, its libraries resolve there
# and it starts there. Prints what fails and returns non-zero.
verify() {
	local root=$1 prog args real out rc failed=()
	while read -r prog args; do
		real=$(resolve "$root" "$prog")
		if [ ! -f "$root$real" ]; then
			failed+=("$prog: missing (resolves to $real)")
			continue
		fi
		# The loader in the layer lists the program's libraries the way it
		# loads them; it fails on the first one the layer lacks. A script's
		# interpreter is proven by running the script below.
		if is_elf "$root$real"; then
			if ! out=$(chroot "$root" "$LOADER" --list "$prog" 2>&1) || grep -q 'not found' <<<"$out"; then
				failed+=("$prog: $(tr -s '\t\n' '  ' <<<"$out")")
				continue
			fi
		fi
		# shellcheck disable=SC2086 # the keep-list's arguments, split on purpose
		out=$(chroot "$root" "$prog" $args 2>&1 </dev/null) && rc=0 || rc=$?
		if [ "$rc" -eq 126 ] || [ "$rc" -eq 127 ] || grep -q 'error while loading shared libraries' <<<"$out"; then
			failed+=("$prog $args: does not start (exit $rc): $(tr -s '\t\n' '  ' <<<"$out" | cut -c1-300)")
		fi
	done < <(keep_list)
	[ ${#failed[@]} -eq 0 ] && return 0
	echo "error: the csi-blkio base layer cannot run what the plugin needs:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	return 1
}

build_plugin_rootfs() {
	local out=$1 src=$1/debian dst=$1/rootfs prog args f needs libs lib
	mkdir "$src" "$dst"
	tar -C "$src" -xf "$debian"
	{
		# Debian's top-level links into /usr: the loader's path in every
		# program (/lib64/...) and the usual /bin, /sbin go through them.
		for f in bin sbin lib lib64; do
			[ ! -L "$src/$f" ] || echo "$f"
		done
		while read -r prog args; do
			path_chain "$src" "$prog"
			needs=$(needed_files "$src" "$prog")
			for f in $needs; do
				path_chain "$src" "$f"
				# The interpreter of a script has libraries of its own (and
				# a library's list is its own closure: ldd lists them all).
				libs=$(needed_files "$src" "$f")
				for lib in $libs; do path_chain "$src" "$lib"; done
			done
		done < <(keep_list)
		# The loader's search configuration, and what the tools read:
		# mke2fs.conf (ext4 defaults), fstab (fsck and mount consult it).
		for f in etc/ld.so.cache etc/ld.so.conf etc/ld.so.conf.d etc/mke2fs.conf etc/fstab; do
			[ ! -e "$src/$f" ] || echo "$f"
		done
		find "$src/etc/ld.so.conf.d" -mindepth 1 -printf 'etc/ld.so.conf.d/%P\n'
	} | sort -u >"$out/files"
	tar -C "$src" --no-recursion -cf - -T "$out/files" | tar -C "$dst" -xf -
	rm -rf --one-file-system "$src"

	mkdir -p "$dst"/{dev,proc,sys,run,root,etc}
	install -d -m 1777 "$dst/tmp"
	# mke2fs, e2fsck and resize2fs ask whether a device is mounted through
	# /etc/mtab; the kernel's table is the true one.
	ln -s ../proc/self/mounts "$dst/etc/mtab"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dst/etc/passwd"
	printf 'root:x:0:\n' >"$dst/etc/group"
	printf 'passwd: files\ngroup: files\n' >"$dst/etc/nsswitch.conf"

	verify "$dst"
	layer_tar "$dst" "$out/layer.tar"
	sha256sum "$out/layer.tar" | cut -d' ' -f1 >"$out/layer.tar.sha256"
	rm -rf --one-file-system "$dst"
}

[ "$(id -u)" -eq 0 ] || die "plugin-rootfs.sh needs root (chroot)"
if [ $# -gt 0 ]; then
	# --check DIR: only prove an unpacked layer (to try the check itself).
	if [ $# -ne 2 ] || [ "$1" != --check ] || [ ! -d "$2" ]; then
		die "usage: $0 [--check DIR]"
	fi
	verify "$2"
	exit
fi

debian=$("$IMAGES_DIR/debian-rootfs.sh")
key=$(cat "$debian.sha256" "$KEEP_LIST" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)
cached_build "rootfs-plugin-$key" build_plugin_rootfs
layer=$CACHE/rootfs-plugin-$key/layer.tar

# The cached layer is proven again on every call: unpacking ~6 MB and
# starting each program takes about a second.
check=$(mktemp -d "$CACHE/.rootfs-plugin-check.XXXXXX")
# shellcheck disable=SC2064 # expanded now: the path of this call
trap "rm -rf --one-file-system '$check'" EXIT
tar -C "$check" -xf "$layer"
verify "$check" || die "$layer fails its check; delete $(dirname "$layer") to rebuild it"
echo "$layer"
