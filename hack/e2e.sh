#!/usr/bin/env bash
# The end-to-end stage (root): builds csi-blkio and the images it needs
# (cached by version or content, see hack/images), starts a real node with
# hack/cluster/with.sh (torn down on exit, failure and Ctrl-C alike) and runs
# the e2e suite in it: helm install of charts/csi-blkio, real pods on
# throttled volumes (test/e2e). Extra arguments go to `go test`, e.g.
#   hack/e2e.sh -run TestInlineVolume
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh

require_root "the e2e stage" "a kubelet, containerd, loop devices, mounts, cgroups"

if [ "${1:-}" != --in-node ]; then
	node_tier_prepare e2e
	export CSI_BLKIO_E2E_BINARY=$NODE_BINARY CSI_BLKIO_E2E_HELM=$NODE_HELM
	hack/images/fio.sh >/dev/null
	node_tier_enter e2e "$@"
fi
shift

# In the node (with.sh exported CSI_BLKIO_TEST_*): import the images.
node_tier_import_images "$CSI_BLKIO_E2E_BINARY"
CSI_BLKIO_E2E_PLUGIN_IMAGE=$NODE_PLUGIN_IMAGE
CSI_BLKIO_E2E_PROVISIONER_IMAGE=$NODE_PROVISIONER_IMAGE
CSI_BLKIO_E2E_RESIZER_IMAGE=$NODE_RESIZER_IMAGE
CSI_BLKIO_E2E_FIO_IMAGE=$(hack/images/fio.sh --import "$CSI_BLKIO_TEST_CONTAINERD_SOCK")
export CSI_BLKIO_E2E_PLUGIN_IMAGE CSI_BLKIO_E2E_PROVISIONER_IMAGE CSI_BLKIO_E2E_RESIZER_IMAGE CSI_BLKIO_E2E_FIO_IMAGE
go test -count=1 -v -parallel 8 -timeout 20m ./test/e2e/ "$@"
