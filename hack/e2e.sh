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

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: the e2e stage needs root (a kubelet, containerd, loop devices, mounts, cgroups)"
	exit 0
fi

if [ "${1:-}" != --in-node ]; then
	t0=$SECONDS
	work=$(mktemp -d /tmp/csiblkio-test-e2e.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	CGO_ENABLED=0 go build -o "$work/csi-blkio" ./cmd/csi-blkio
	export CSI_BLKIO_E2E_BINARY=$work/csi-blkio
	CSI_BLKIO_E2E_HELM=$(hack/tools/helm.sh)
	export CSI_BLKIO_E2E_HELM
	# Build (or find cached) everything the node needs before it starts.
	hack/tools/kube.sh >/dev/null
	hack/tools/etcd.sh >/dev/null
	hack/images/debian-rootfs.sh >/dev/null
	hack/images/csi-provisioner.sh >/dev/null
	hack/images/csi-resizer.sh >/dev/null
	hack/images/fio.sh >/dev/null
	echo "e2e: binary, tools and images ready in $((SECONDS - t0)) s"
	hack/cluster/with.sh node "$0" --in-node "$@"
	exit
fi
shift

# In the node (with.sh exported CSI_BLKIO_TEST_*): import the images.
sock=$CSI_BLKIO_TEST_CONTAINERD_SOCK
CSI_BLKIO_E2E_PLUGIN_IMAGE=$(hack/images/csi-blkio.sh --binary "$CSI_BLKIO_E2E_BINARY" --import "$sock")
CSI_BLKIO_E2E_PROVISIONER_IMAGE=$(hack/images/csi-provisioner.sh --import "$sock")
CSI_BLKIO_E2E_RESIZER_IMAGE=$(hack/images/csi-resizer.sh --import "$sock")
CSI_BLKIO_E2E_FIO_IMAGE=$(hack/images/fio.sh --import "$sock")
export CSI_BLKIO_E2E_PLUGIN_IMAGE CSI_BLKIO_E2E_PROVISIONER_IMAGE CSI_BLKIO_E2E_RESIZER_IMAGE CSI_BLKIO_E2E_FIO_IMAGE
go test -count=1 -v -parallel 8 -timeout 20m ./test/e2e/ "$@"
