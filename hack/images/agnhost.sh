#!/usr/bin/env bash
# The agnhost image the Kubernetes storage suites run in some pods (subPath,
# mount tests): agnhost from k8s.io/kubernetes (built with e2e.test by
# hack/tools/e2e-test.sh) as /agnhost, its entrypoint with `pause` as the
# default command like upstream's image, over the busybox layer of
# busybox.sh for the shell and the tools the suites call. Cached per
# Kubernetes version and busybox image. Flags: --import SOCK, --out FILE.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"

e2e_dir=$("$IMAGES_DIR/../tools/e2e-test.sh")
busybox_ref=$("$IMAGES_DIR/busybox.sh")
busybox_tar=$CACHE/image-busybox-${busybox_ref##*:}/image.tar
kube_version=${e2e_dir##*/e2e-test-}
tag=$kube_version-busybox-${busybox_ref##*:}

build_agnhost() {
	local out=$1 layer
	# The busybox image has one layer: reuse it as this image's base.
	# (write_docker_archive stores its members as ./NAME.)
	layer=$(tar -xOf "$busybox_tar" ./manifest.json | grep -o '"[0-9a-f]*/layer.tar"' | tr -d '"')
	tar -xf "$busybox_tar" -C "$out" "./$layer"
	mv "$out/$layer" "$out/base.tar"
	mkdir -p "$out/rootfs"
	cp "$e2e_dir/agnhost" "$out/rootfs/agnhost"
	# Upstream's image has it too: entrypoint tests run the second name.
	ln -s agnhost "$out/rootfs/agnhost-2"
	layer_tar "$out/rootfs" "$out/layer.tar"
	rm -rf "$out/rootfs" "${out:?}/${layer%/*}"
	write_docker_archive "$out/image.tar" "$IMAGE_REGISTRY/agnhost:$tag" '["/agnhost"]' '["pause"]' \
		"$out/base.tar" "$out/layer.tar"
	rm "$out/base.tar" "$out/layer.tar"
}

cached_build "image-agnhost-$tag" build_agnhost
finish_image "$IMAGE_REGISTRY/agnhost:$tag" "$CACHE/image-agnhost-$tag/image.tar"
