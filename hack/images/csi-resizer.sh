#!/usr/bin/env bash
# The csi-resizer image: the binary of hack/tools/csi-resizer.sh alone on
# an empty filesystem (sidecar_image in lib.sh).
# Flags: --import SOCK, --out FILE (lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"
sidecar_image csi-resizer
