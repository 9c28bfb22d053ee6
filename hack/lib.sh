# shellcheck shell=bash
# Shared shell helpers for hack/ scripts. Source it; do not run it.

# CACHE holds what the scripts build or download once (binaries keyed by
# version), so that a second run on the same machine is fast.
CACHE=${CSI_BLKIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/csi-blkio}
mkdir -p "$CACHE"

_steps=()

# step NAME CMD...: runs CMD, prints its wall time, stops the script on failure.
step() {
	local name=$1; shift
	local start=$SECONDS
	echo "=== ${name}"
	if ! "$@"; then
		echo "=== FAILED: ${name} ($((SECONDS - start)) s)" >&2
		exit 1
	fi
	_steps+=("${name}: $((SECONDS - start)) s")
	echo "=== ok: ${name} ($((SECONDS - start)) s)"
}

summary() {
	echo "=== all tiers passed"
	printf '  %s\n' "${_steps[@]}"
}

# now: the wall clock in seconds, to the nanosecond; since T: the seconds
# from T (a value of now) to now, to a tenth. The VM tiers time their
# phases with them, finer than $SECONDS.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

# require_root TIER NEEDS: ends the calling script with a skip (exit 0)
# unless it runs as root; NEEDS says what for.
require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "skip: $1 needs root ($2)"
		exit 0
	fi
}

# node_tier_prepare NAME: what a tier on the hack/cluster node does before
# the node starts (hack/e2e.sh, hack/conformance.sh): a work dir
# /tmp/csiblkio-test-NAME.* removed when the script exits, a fresh static
# csi-blkio binary in it, and every cached tool and image the node and the
# chart need, built now so that the node does not wait for them. Sets
# NODE_WORK, NODE_BINARY and NODE_HELM (the helm binary).
# shellcheck disable=SC2034 # the NODE_* variables are for the caller
node_tier_prepare() {
	NODE_T0=$SECONDS
	NODE_WORK=$(mktemp -d "/tmp/csiblkio-test-$1.XXXXXX")
	# shellcheck disable=SC2064 # expanded now: the path of this run
	trap "rm -rf '$NODE_WORK'" EXIT
	NODE_BINARY=$NODE_WORK/csi-blkio
	CGO_ENABLED=0 go build -o "$NODE_BINARY" ./cmd/csi-blkio
	NODE_HELM=$(hack/tools/helm.sh)
	hack/tools/kube.sh >/dev/null
	hack/tools/etcd.sh >/dev/null
	hack/images/plugin-rootfs.sh >/dev/null # builds the Debian rootfs it is cut from too
	hack/images/csi-provisioner.sh >/dev/null
	hack/images/csi-resizer.sh >/dev/null
}

# node_tier_enter NAME ARG...: the end of a node tier's first half, on the
# host: says how long the preparation took (from node_tier_prepare on) and
# runs the calling script again with --in-node ARG... inside a node
# (hack/cluster/with.sh node, which tears it down however the run ends),
# then exits with the node half's status.
node_tier_enter() {
	echo "$1: binary, tools and images ready in $((SECONDS - NODE_T0)) s"
	shift
	hack/cluster/with.sh node "$0" --in-node "$@"
	exit
}

# node_tier_import_images BINARY: in the node, imports the images the chart
# runs into the node's containerd ($CSI_BLKIO_TEST_CONTAINERD_SOCK): the
# csi-blkio image of BINARY and the csi-provisioner and csi-resizer images
# node_tier_prepare built. Sets NODE_PLUGIN_IMAGE, NODE_PROVISIONER_IMAGE
# and NODE_RESIZER_IMAGE to their references.
# shellcheck disable=SC2034 # the NODE_* variables are for the caller
node_tier_import_images() {
	local sock=$CSI_BLKIO_TEST_CONTAINERD_SOCK
	NODE_PLUGIN_IMAGE=$(hack/images/csi-blkio.sh --binary "$1" --import "$sock")
	NODE_PROVISIONER_IMAGE=$(hack/images/csi-provisioner.sh --import "$sock")
	NODE_RESIZER_IMAGE=$(hack/images/csi-resizer.sh --import "$sock")
}

# apt_install PKG...: installs the Debian packages that are missing.
apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Other helpers may run apt at the same time: wait for the lock, do not fail.
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
