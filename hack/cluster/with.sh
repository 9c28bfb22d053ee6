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
dir=$(mktemp -d "/tmp/csiblkio-test-$kind.XXXXXX")
trap '"$script" down "$dir"' EXIT
trap 'exit 130' INT TERM # run the EXIT trap on Ctrl-C and kill too

"$script" up "$dir"
eval "$("$script" env "$dir")"
# CMD runs in the background and the shell waits for it: bash runs a trap
# only between commands, so a foreground CMD would delay the teardown on
# SIGTERM until CMD ended by itself. The signal is passed on to CMD.
"$@" &
child=$!
trap 'kill -INT $child 2>/dev/null; wait $child; exit 130' INT
trap 'kill -TERM $child 2>/dev/null; wait $child; exit 143' TERM
rc=0
wait $child || rc=$?
if [ $rc -ne 0 ]; then
	if [ -n "${CSI_BLKIO_TEST_KEEP_LOGS:-}" ]; then
		log "command failed (exit $rc); the cluster's logs stay in $dir/logs"
	else
		log "command failed (exit $rc); set CSI_BLKIO_TEST_KEEP_LOGS=1 to keep the cluster's logs"
	fi
fi
exit $rc
