# shellcheck shell=bash
# Helpers for hack/images/*.sh: container images without a registry. Source it.
#
# An image is written as a docker-archive tar (the `docker save` layout:
# manifest.json, one config JSON, one directory per layer holding layer.tar)
# and imported with `ctr images import` into the k8s.io namespace of a given
# containerd socket, where the CRI plugin (and so the kubelet) sees it.
# Images are named csi-blkio.local/<name>:<tag>; pods must use
# imagePullPolicy: Never (or IfNotPresent) since nothing can be pulled.

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tools/common.sh
source "$IMAGES_DIR/../tools/common.sh"
# shellcheck disable=SC2034 # used by the image scripts that source this file
IMAGE_REGISTRY=csi-blkio.local

die() { echo "error: $*" >&2; exit 1; }

# layer_tar ROOTFS OUT: a reproducible layer tar of directory ROOTFS (sorted,
# owned by root, fixed mtime), so an unchanged rootfs gives the same digest
# and containerd stores the layer once.
layer_tar() {
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
		--xattrs --xattrs-include='security.capability' \
		-C "$1" -cf "$2" .
}

# json_array ARG...: a JSON array of strings (ARGs contain no quote or backslash).
json_array() {
	local out="" a
	for a in "$@"; do
		# shellcheck disable=SC1003 # '\' is a backslash, matched on purpose
		case $a in *'"'* | *'\'*) die "json_array: unsupported character in '$a'" ;; esac
		out+="${out:+,}\"$a\""
	done
	echo "[$out]"
}

# write_docker_archive OUT REF ENTRYPOINT_JSON CMD_JSON LAYER_TAR...: writes
# the image REF (name:tag) with the given layers (lowest first) to OUT.
write_docker_archive() {
	local out=$1 ref=$2 entrypoint=$3 cmd=$4; shift 4
	local work sha diff_ids="" layers=""
	# Work next to OUT: same filesystem, so layers are hard-linked, not copied.
	work=$(mktemp -d "$(dirname "$out")/.archive.XXXXXX")
	for l in "$@"; do
		# A cached layer carries its digest beside it (LAYER.sha256).
		if [ -f "$l.sha256" ]; then sha=$(cat "$l.sha256"); else sha=$(sha256sum "$l" | cut -d' ' -f1); fi
		mkdir -p "$work/$sha"
		ln "$l" "$work/$sha/layer.tar" 2>/dev/null || cp "$l" "$work/$sha/layer.tar"
		diff_ids+="${diff_ids:+,}\"sha256:$sha\""
		layers+="${layers:+,}\"$sha/layer.tar\""
	done
	cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
  "Entrypoint":$entrypoint,"Cmd":$cmd,"WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":[$diff_ids]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"csi-blkio hack/images"}]}
JSON
	sha=$(sha256sum "$work/config.json" | cut -d' ' -f1)
	mv "$work/config.json" "$work/$sha.json"
	echo "[{\"Config\":\"$sha.json\",\"RepoTags\":[\"$ref\"],\"Layers\":[$layers]}]" >"$work/manifest.json"
	tar -C "$work" -cf "$out" .
	rm -rf "$work"
}

# import_image TAR SOCK: imports TAR into containerd at SOCK (namespace k8s.io).
import_image() {
	ctr --address "$2" --namespace k8s.io images import "$1" >&2
}

# Options every image script takes (parse_image_flags sets them):
#   --import SOCK  import the image into containerd at SOCK
#   --out FILE     also copy the docker-archive tar to FILE
# and the script prints the image reference on stdout.
IMPORT_SOCK=""
OUT_FILE=""
EXTRA_FLAGS=() # flags the calling script handles itself

# parse_image_flags ARG...: sets IMPORT_SOCK and OUT_FILE, collects the rest
# in EXTRA_FLAGS.
parse_image_flags() {
	while [ $# -gt 0 ]; do
		case $1 in
		--import) IMPORT_SOCK=$2; shift 2 ;;
		--out) OUT_FILE=$2; shift 2 ;;
		*) EXTRA_FLAGS+=("$1"); shift ;;
		esac
	done
}

# finish_image REF TAR: imports and copies TAR as the flags asked, prints REF.
finish_image() {
	[ -z "$IMPORT_SOCK" ] || import_image "$2" "$IMPORT_SOCK"
	[ -z "$OUT_FILE" ] || cp "$2" "$OUT_FILE"
	echo "$1"
}

# tag_of STRING: STRING made a valid image tag ([A-Za-z0-9_.-], max 128).
tag_of() {
	local t=${1//[^A-Za-z0-9_.-]/_}
	echo "${t:0:128}"
}
