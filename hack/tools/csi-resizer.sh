#!/usr/bin/env bash
# Builds csi-resizer (github.com/kubernetes-csi/external-resizer/v2) once
# per version and prints the binary's path (sidecar_binary in common.sh);
# hack/images/csi-resizer.sh wraps it into an image.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
sidecar_binary csi-resizer github.com/kubernetes-csi/external-resizer/v2
