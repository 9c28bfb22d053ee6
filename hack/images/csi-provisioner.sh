#!/usr/bin/env bash
# The csi-provisioner image: the binary of hack/tools/csi-provisioner.sh
# alone on an empty filesystem (sidecar_image in lib.sh).
# Flags: --import SOCK, --out FILE (lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_image_flags "$@"
sidecar_image csi-provisioner
