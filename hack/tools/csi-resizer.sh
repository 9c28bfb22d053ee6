#!/usr/bin/env bash
# Builds csi-resizer (github.com/kubernetes-csi/external-resizer/v2) once per
# version into $CACHE/csi-resizer-<version>/ and prints the binary's path;
# hack/images/csi-resizer.sh wraps it into an image. hack/tools/csi-resizer/
# is a wrapper module pinning the version and every dependency (go.sum), the
# way hack/tools/csi-provisioner/ pins csi-provisioner.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RESIZER_VERSION=$(module_version csi-resizer github.com/kubernetes-csi/external-resizer/v2)

build_resizer() {
	(cd "$TOOLS_DIR/csi-resizer" && go build -ldflags "-s -w -X main.version=$RESIZER_VERSION" \
		-o "$1/csi-resizer" github.com/kubernetes-csi/external-resizer/v2/cmd/csi-resizer)
}

cached_build "csi-resizer-$RESIZER_VERSION" build_resizer
echo "$CACHE/csi-resizer-$RESIZER_VERSION/csi-resizer"
