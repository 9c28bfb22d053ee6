#!/usr/bin/env bash
# Builds csi-provisioner (github.com/kubernetes-csi/external-provisioner/v6)
# once per version into $CACHE/csi-provisioner-<version>/ and prints the
# binary's path; hack/images/csi-provisioner.sh wraps it into an image.
# hack/tools/csi-provisioner/ is a wrapper module that copies the replace
# directives of external-provisioner's go.mod (replaces only apply in the main
# module, and without them its k8s.io dependencies do not resolve as released).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PROVISIONER_VERSION=$(module_version csi-provisioner github.com/kubernetes-csi/external-provisioner/v6)

build_provisioner() {
	(cd "$TOOLS_DIR/csi-provisioner" && go build -ldflags "-s -w -X main.version=$PROVISIONER_VERSION" \
		-o "$1/csi-provisioner" github.com/kubernetes-csi/external-provisioner/v6/cmd/csi-provisioner)
}

cached_build "csi-provisioner-$PROVISIONER_VERSION" build_provisioner
echo "$CACHE/csi-provisioner-$PROVISIONER_VERSION/csi-provisioner"
