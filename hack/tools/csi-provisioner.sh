#!/usr/bin/env bash
# Builds csi-provisioner (github.com/kubernetes-csi/external-provisioner/v6)
# once per version and prints the binary's path (sidecar_binary in
# common.sh); hack/images/csi-provisioner.sh wraps it into an image.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
sidecar_binary csi-provisioner github.com/kubernetes-csi/external-provisioner/v6
