# shellcheck shell=bash
# The initramfs of the cgroup v2 node VM. Source it (after hack/lib.sh); it
# defines node_initrd. Debian builds virtio and ext4 as modules, so the
# kernel cannot mount the root disk by itself: this busybox initramfs loads
# them and switches to the disk's /sbin/init (systemd).

# Modules that reach the root disk; their dependencies come first, in the
# order modules.dep gives. crc32c_generic serves ext4's soft dependency.
NODE_ROOT_MODULES=(virtio_pci virtio_blk crc32c_generic ext4)

# _node_initrd_init is the initramfs's /init.
_node_initrd_init() {
	cat <<'INIT'
#!/bin/busybox sh
# Loads what the kernel needs to reach the root disk, then hands over to systemd.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
for m in $(/bin/busybox cat /lib/modules/order); do
	/bin/busybox insmod "/lib/modules/$m" || echo "initrd: insmod $m failed"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do /bin/busybox sleep 0.1; i=$((i + 1)); done
/bin/busybox mount -t ext4 -o rw /dev/vda /newroot || { echo "initrd: cannot mount /dev/vda"; /bin/busybox poweroff -f; }
/bin/busybox umount /proc /sys
/bin/busybox mount --move /dev /newroot/dev
exec /bin/busybox switch_root /newroot /sbin/init
INIT
}

# _module_order DEPFILE NAME: prints the module paths (relative to the
# module dir) NAME needs, dependencies first, each once (SEEN_MODULES).
_module_order() {
	local dep=$1 path deps d
	path=$(awk -F: -v m="/$2.ko" 'substr($1, length($1) - length(m) + 1) == m {print $1; exit}' "$dep")
	[ -n "$path" ] || { echo "node-initrd: the kernel has no module $2" >&2; return 1; }
	case " $SEEN_MODULES " in *" $path "*) return 0 ;; esac
	SEEN_MODULES+=" $path"
	deps=$(awk -F: -v p="$path" '$1 == p {print $2; exit}' "$dep")
	for d in $deps; do
		d=${d##*/}
		_module_order "$dep" "${d%.ko}"
	done
	echo "$path"
}

# node_initrd DIR: makes sure DIR/initrd (a symlink to initrd-<recipe>.gz)
# exists for the disk image DIR/disk.img, reading the modules from the image
# with debugfs (nothing is mounted). The recipe key is this file.
node_initrd() {
	local dir=$1 key name tmp kver mdir f
	key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
	name=initrd-$key.gz
	if [ ! -f "$dir/$name" ]; then
		tmp=$(mktemp -d "$CACHE/qemu/initrd-tmp.XXXXXX")
		kver=$(debugfs -R "ls /usr/lib/modules" "$dir/disk.img" 2>/dev/null | tr -s ' ' '\n' | grep -m1 '^[0-9][0-9]*\.[0-9]')
		[ -n "$kver" ] || { echo "node-initrd: no kernel modules on $dir/disk.img" >&2; rm -rf "$tmp"; return 1; }
		mdir=/usr/lib/modules/$kver
		debugfs -R "cat $mdir/modules.dep" "$dir/disk.img" >"$tmp/modules.dep" 2>/dev/null
		mkdir -p "$tmp/root"/{bin,dev,proc,sys,newroot,lib/modules}
		cp /bin/busybox "$tmp/root/bin/busybox"
		SEEN_MODULES="" SEEN_DUMPED=""
		local order=() m
		for m in "${NODE_ROOT_MODULES[@]}"; do
			mapfile -t -O "${#order[@]}" order < <(_module_order "$tmp/modules.dep" "$m")
		done
		# The lookups ran in subshells: check that each module made it.
		for m in "${NODE_ROOT_MODULES[@]}"; do
			printf '%s\n' "${order[@]}" | grep -q "/$m.ko$" ||
				{ echo "node-initrd: module $m not found in $mdir/modules.dep" >&2; rm -rf "$tmp"; return 1; }
		done
		for f in "${order[@]}"; do
			case " $SEEN_DUMPED " in *" $f "*) continue ;; esac
			SEEN_DUMPED+=" $f"
			debugfs -R "dump $mdir/$f $tmp/root/lib/modules/${f##*/}" "$dir/disk.img" 2>/dev/null
			[ -s "$tmp/root/lib/modules/${f##*/}" ] || { echo "node-initrd: cannot read $mdir/$f from the image" >&2; rm -rf "$tmp"; return 1; }
			echo "${f##*/}" >>"$tmp/root/lib/modules/order"
		done
		_node_initrd_init >"$tmp/root/init"
		chmod 755 "$tmp/root/init"
		(cd "$tmp/root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$tmp/initrd.gz"
		mv "$tmp/initrd.gz" "$dir/$name"
		rm -rf "$tmp"
	fi
	ln -sfn "$name" "$dir/initrd"
}
