#!/usr/bin/env bash
# Builds etcd once per version into $CACHE/etcd-<version>/ and prints the
# binary's path. Debian's etcd-server (3.4) is too old for Kubernetes 1.37, and
# etcd cannot be `go install`ed (replace directives in its go.mod), so
# hack/tools/etcd/ is a wrapper module calling etcdmain.Main.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ETCD_VERSION=$(module_version etcd go.etcd.io/etcd/server/v3)

build_etcd() {
	(cd "$TOOLS_DIR/etcd" && go build -ldflags "-s -w" -o "$1/etcd" .)
}

cached_build "etcd-$ETCD_VERSION" build_etcd
echo "$CACHE/etcd-$ETCD_VERSION/etcd"
