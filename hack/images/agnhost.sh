#!/usr/bin/env bash
# The agnhost image the Kubernetes storage suites run in some pods (subPath,
# mount tests): agnhost from k8s.io/kubernetes (built with e2e.test by
# hack/tools/e2e-test.sh) as /agnhost, its entrypoint with `pause` as the
# default command like upstream's image, with Debian's static busybox and
# its applets for the shell and the tools the suites call. Cached per
# Kubernetes and busybox version. Flags: --import SOCK, --out FILE.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"

e2e_dir=$("$IMAGES_DIR/../tools/e2e-test.sh")
kube_version=$(cat "$e2e_dir/version")
[ "$(id -u)" -ne 0 ] || apt_install busybox-static >&2
busybox_version=$(dpkg-query -W -f='${Version}' busybox-static)
tag=$kube_version-busybox-$(tag_of "${busybox_version#*:}")

build_agnhost() {
	local out=$1 root=$1/rootfs applet
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,root,var}
	install -d -m 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for applet in $("$root/bin/busybox" --list-full); do
		[ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	cp "$e2e_dir/agnhost" "$root/agnhost"
	# Upstream's image has it too: entrypoint tests run the second name.
	ln -s agnhost "$root/agnhost-2"
	layer_tar "$root" "$out/layer.tar"
	rm -rf "$root"
	image_archive --out "$out/image.tar" --ref "$IMAGE_REGISTRY/agnhost:$tag" \
		--entrypoint /agnhost --cmd pause "$out/layer.tar"
	rm "$out/layer.tar"
}

cached_build "image-agnhost-$tag-$IMAGE_FORMAT" build_agnhost
finish_image "$IMAGE_REGISTRY/agnhost:$tag" "$CACHE/image-agnhost-$tag-$IMAGE_FORMAT/image.tar"
