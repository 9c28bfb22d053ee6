# shellcheck shell=bash
# Helpers shared by the tool builders in hack/tools/. Source it; do not run it.
#
# Every tool is built once into $CACHE/<tool>-<version>/ and reused from there.
# A build goes into a temporary directory next to its final place and is renamed
# into place only when complete, so an interrupted build never leaves a
# half-filled cache entry behind. A lock file per entry makes a second run that
# races the first wait for it instead of starting the same multi-minute build.

TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
source "$TOOLS_DIR/../lib.sh"

# Builds must not depend on the caller's environment: static binaries, no VCS
# stamping (the wrapper modules live in a git worktree), the go.sum as checked in.
export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false -mod=readonly"

# cached_build ENTRY FN [ARGS...]: makes sure $CACHE/ENTRY exists, calling
# FN TMPDIR [ARGS...] to fill a temporary directory when it does not. Prints
# nothing on stdout (FN's output goes to stderr), so callers can print the path.
# Call it from a script running with set -euo pipefail: a failing FN ends it.
cached_build() {
	local entry=$1 fn=$2; shift 2
	local final="$CACHE/$entry"
	[ -d "$final" ] && return 0

	exec {lockfd}>"$CACHE/.$entry.lock"
	flock "$lockfd"
	if [ ! -d "$final" ]; then
		local tmp start=$SECONDS
		tmp=$(mktemp -d "$CACHE/.$entry.tmp.XXXXXX")
		chmod 755 "$tmp" # mktemp makes it 0700
		echo "building $entry (cold, once per machine) ..." >&2
		# FN runs under the caller's set -e (not in an if/|| context, where
		# bash would ignore errexit inside it); the trap drops a failed build.
		# shellcheck disable=SC2064 # $tmp is a local: expanded now, on purpose
		trap "rm -rf --one-file-system '$tmp'" EXIT
		"$fn" "$tmp" "$@" >&2
		trap - EXIT
		mv -T "$tmp" "$final"
		echo "built $entry in $((SECONDS - start)) s" >&2
	fi
	exec {lockfd}>&-
}

# module_version DIR MODULE: the version of MODULE that the wrapper module in
# $TOOLS_DIR/DIR requires. The wrapper's go.mod is the one place a tool's
# version is written; the cache entry is keyed by it.
module_version() {
	local v
	v=$(awk -v m="$2" '$1 == m {print $2} $1 == "require" && $2 == m {print $3}' "$TOOLS_DIR/$1/go.mod")
	[ -n "$v" ] || { echo "no require of $2 in $TOOLS_DIR/$1/go.mod" >&2; return 1; }
	echo "$v"
}

# sidecar_binary NAME MODULE: builds the Kubernetes CSI sidecar NAME
# (MODULE/cmd/NAME) once per version into $CACHE/NAME-<version>/ and prints
# the binary's path. hack/tools/NAME/ is its wrapper module: it pins the
# version and every dependency (go.sum) and copies the replace directives of
# the sidecar's own go.mod (replaces apply only in the main module, and
# without them its k8s.io dependencies do not resolve as released).
sidecar_binary() {
	local name=$1 module=$2 version
	version=$(module_version "$name" "$module")
	cached_build "$name-$version" build_sidecar "$name" "$module" "$version"
	echo "$CACHE/$name-$version/$name"
}

# build_sidecar OUT NAME MODULE VERSION: cached_build's step of sidecar_binary.
build_sidecar() {
	local out=$1 name=$2 module=$3 version=$4
	(cd "$TOOLS_DIR/$name" && go build -ldflags "-s -w -X main.version=$version" -o "$out/$name" "$module/cmd/$name")
}
