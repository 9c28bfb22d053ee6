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
