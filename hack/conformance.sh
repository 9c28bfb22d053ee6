#!/usr/bin/env bash
# The Kubernetes storage conformance tier (root): the storage SIG's
# external-driver suites of e2e.test (k8s.io/kubernetes test/e2e/storage)
# against csi-blkio on a real node. Builds (or finds cached) csi-blkio, the
# Kubernetes binaries, e2e.test, ginkgo and the images; starts a node with
# hack/cluster/with.sh (torn down on exit, failure and Ctrl-C alike); installs
# charts/csi-blkio with helm; runs every spec focused on
# "External Storage [Driver: blkio.csi.dev]" except those test/conformance/skips
# lists (each with its reason); writes docs/conformance.md from the report.
#   hack/conformance.sh [--procs N] [--focus REGEX]
# --focus narrows the run further (docs/conformance.md is then not written).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh

require_root "the conformance tier" "a kubelet, containerd, loop devices, mounts, cgroups"

if [ "${1:-}" != --in-node ]; then
	node_tier_prepare conformance
	export CSI_BLKIO_CONF_WORK=$NODE_WORK CSI_BLKIO_CONF_BINARY=$NODE_BINARY CSI_BLKIO_CONF_HELM=$NODE_HELM
	CSI_BLKIO_CONF_E2E_DIR=$(hack/tools/e2e-test.sh)
	CSI_BLKIO_CONF_GINKGO=$(hack/tools/ginkgo.sh)
	export CSI_BLKIO_CONF_E2E_DIR CSI_BLKIO_CONF_GINKGO
	hack/images/agnhost.sh >/dev/null
	node_tier_enter conformance "$@"
fi
shift

procs=4 focus=""
while [ $# -gt 0 ]; do
	case $1 in
	--procs) procs=$2; shift 2 ;;
	--focus) focus=$2; shift 2 ;;
	*) echo "unknown flag $1; usage: $0 [--procs N] [--focus REGEX]" >&2; exit 2 ;;
	esac
done

# In the node (with.sh exported CSI_BLKIO_TEST_*).
source hack/conformance-lib.sh
work=$CSI_BLKIO_CONF_WORK
sock=$CSI_BLKIO_TEST_CONTAINERD_SOCK
e2e_test=$CSI_BLKIO_CONF_E2E_DIR/e2e.test
repo_list=$PWD/test/conformance/repo-list.yaml

t0=$SECONDS
node_tier_import_images "$CSI_BLKIO_CONF_BINARY"
hack/images/e2e-test-images.sh --import "$sock" --e2e-test "$e2e_test" --repo-list "$repo_list" >/dev/null
echo "conformance: images imported in $((SECONDS - t0)) s"

t0=$SECONDS
install_plugin "$work" "$NODE_PLUGIN_IMAGE" "$NODE_PROVISIONER_IMAGE" "$NODE_RESIZER_IMAGE"
echo "conformance: csi-blkio installed and registered in $((SECONDS - t0)) s"

skip=$(skip_regex test/conformance/skips)
report=$work/report
mkdir -p "$report"
t0=$SECONDS
rc=0
# ginkgo runs in the background, in a process group of its own, so that a
# TERM or Ctrl-C from with.sh reaches it and its e2e.test processes (bash
# would die and orphan a foreground child that keeps polling a torn-down
# apiserver; the ginkgo CLI does not pass a signal on to its processes, it
# expects the terminal to signal the whole group).
KUBE_TEST_REPO_LIST=$repo_list setsid "$CSI_BLKIO_CONF_GINKGO" \
	-p --procs="$procs" --timeout=40m --no-color --succinct \
	--focus="External.Storage.*blkio\.csi\.dev${focus:+.*$focus}" --skip="$skip" \
	--json-report=report.json --output-dir="$report" \
	"$e2e_test" -- \
	--kubeconfig="$CSI_BLKIO_TEST_KUBECONFIG" --kubectl-path="$CSI_BLKIO_TEST_KUBECTL" \
	--provider=skeleton --repo-root="$PWD" --kubelet-root-dir="$CSI_BLKIO_TEST_KUBELET_DIR" \
	--storage.testdriver="$PWD/test/conformance/driver.yaml" --report-dir="$report" \
	>"$report/ginkgo.log" 2>&1 &
ginkgo_pid=$!
# TERM, not INT: a background job of a script starts with SIGINT ignored.
trap 'kill -TERM -- -$ginkgo_pid 2>/dev/null; wait $ginkgo_pid; exit 130' INT
trap 'kill -TERM -- -$ginkgo_pid 2>/dev/null; wait $ginkgo_pid; exit 143' TERM
tail -f "$report/ginkgo.log" --pid "$ginkgo_pid" &
wait "$ginkgo_pid" || rc=$?
trap - INT TERM
echo "conformance: e2e.test ran in $((SECONDS - t0)) s (exit $rc)"

if [ -z "$focus" ]; then
	go run ./test/conformance/report --report "$report/report.json" --skips test/conformance/skips \
		--e2e-version "$(cat "$CSI_BLKIO_CONF_E2E_DIR/version")" --procs "$procs" --out docs/conformance.md
fi
if [ $rc -ne 0 ]; then
	plugin_logs
	# Beside the cluster's logs, which CSI_BLKIO_TEST_KEEP_LOGS=1 keeps.
	cp "$report"/ginkgo.log "$report"/report.json "$CSI_BLKIO_TEST_CLUSTER_DIR/logs/" 2>/dev/null || true
fi
exit $rc
