#!/usr/bin/env bash
# Runs a command against a fresh cluster and always tears the cluster down:
#   with.sh apiserver CMD...   etcd + kube-apiserver   (apiserver.sh)
#   with.sh node CMD...        a whole node            (node.sh, root)
# CMD runs with the cluster's variables exported (README.md), e.g.
#   hack/cluster/with.sh apiserver go test ./test/integration/...
# Exits with CMD's status. CSI_BLKIO_TEST_KEEP_LOGS=1 keeps the component
# logs (the directory is printed) for a failed CI run's artifacts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -ge 2 ] || die "usage: $0 apiserver|node CMD..."
kind=$1; shift
case $kind in
apiserver | node) script=$CLUSTER_DIR/$kind.sh ;;
*) die "usage: $0 apiserver|node CMD..." ;;
esac

# A short path: unix socket paths (containerd, CSI plugins under the kubelet
# root dir) are limited to 107 bytes.
dir=$(mktemp -d /tmp/csiblkio-test-$kind.XXXXXX)
trap '"$script" down "$dir"' EXIT
trap 'exit 130' INT TERM # run the EXIT trap on Ctrl-C and kill too

"$script" up "$dir"
eval "$("$script" env "$dir")"
rc=0
"$@" || rc=$?
[ $rc -eq 0 ] || log "command failed (exit $rc); cluster logs: $dir/logs (kept with CSI_BLKIO_TEST_KEEP_LOGS=1)"
exit $rc
