#!/usr/bin/env bash
# go-install.sh NAME VERSION PACKAGE [LDFLAGS]
#
# Builds PACKAGE@VERSION from the module proxy once into $CACHE/NAME-VERSION/bin
# and prints the path of the binary. Concurrent callers (test packages run in
# parallel) serialise on a lock: one builds, the others wait and reuse it.
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/lib.sh

name=$1 version=$2 pkg=$3 ldflags=${4:-}
dir="$CACHE/$name-$version"
bin="$dir/bin/$(basename "${pkg%@*}")"

if [ ! -x "$bin" ]; then
	exec 9>"$CACHE/$name-$version.lock"
	flock 9
	if [ ! -x "$bin" ]; then
		echo "building $name $version from the module proxy (once)" >&2
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp/bin"
		GOBIN="$dir.tmp/bin" CGO_ENABLED=0 go install -ldflags "$ldflags" "$pkg@$version" >&2
		rm -rf "$dir"
		mv "$dir.tmp" "$dir"
	fi
fi
echo "$bin"
