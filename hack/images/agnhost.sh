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
tag=$kube_version-busybox-$(busybox_tag)

build_agnhost() {
	local out=$1 root=$1/rootfs
	busybox_rootfs "$root"
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
