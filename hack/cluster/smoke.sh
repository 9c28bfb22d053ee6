#!/usr/bin/env bash
# Smoke test of the cluster scripts (root): an apiserver alone, then a whole
# node that runs a pod writing a file with dd; after each `down` nothing of
# the cluster may remain (processes, mounts, cgroups, links, host files).
# Prints the wall time of every stage. Exit status 0 only if every check held.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: the cluster smoke test needs root"
	exit 0
fi

failures=0
times=()
# check DESC CMD...: records a failure (and goes on) when CMD fails.
check() {
	local desc=$1; shift
	if "$@" >/dev/null 2>&1; then
		echo "  ok   $desc"
	else
		echo "  FAIL $desc" >&2
		failures=$((failures + 1))
	fi
}
# timed NAME CMD...: runs CMD (must succeed) and records its wall time.
timed() {
	local name=$1; shift
	local t0=$EPOCHREALTIME
	"$@"
	times+=("$(awk -v n="$name" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%-28s %6.1f s", n, b - a}')")
}
no_process_mentions() { [ -z "$(pgrep_live -f -- "$1")" ]; }
nothing_mounted_under() { ! awk -v d="$1" '$5 == d || index($5, d "/") == 1' /proc/self/mountinfo | grep -q .; }
output_has() {
	local want=$1 out; shift
	out=$("$@" 2>&1) || true # the output decides, not the exit status
	grep -qF -- "$want" <<<"$out"
}
no_live_shim_or_kubelet() { [ -z "$(pgrep_live -f "containerd-shim.*$1")$(pgrep_live -x kubelet)" ]; }
# Other engineers' kernel tests attach loop devices meanwhile: only ours count.
no_loop_under() { ! losetup -n -l -O BACK-FILE | grep -qF -- "$1/"; }
no_kube_cache_outside() { [ ! -e "$HOME/.kube/cache/discovery/127.0.0.1_$1" ]; }
no_link_into() { ! find /var/log/containers -maxdepth 1 -lname "$1/*" 2>/dev/null | grep -q .; }

timed "tools (cached or built)" bash -c '"$1/hack/tools/kube.sh" && "$1/hack/tools/etcd.sh" && "$1/hack/images/busybox.sh" && "$1/hack/images/pause.sh"' _ "$REPO_DIR" >/dev/null

# --- apiserver alone -----------------------------------------------------------
echo "=== apiserver"
dir=$(mktemp -d /tmp/csiblkio-test-smoke.XXXXXX)
trap '"$CLUSTER_DIR/apiserver.sh" down "$dir"' EXIT
timed "apiserver up" "$CLUSTER_DIR/apiserver.sh" up "$dir"
eval "$("$CLUSTER_DIR/apiserver.sh" env "$dir")"
k=("$CSI_BLKIO_TEST_KUBECTL" --kubeconfig "$CSI_BLKIO_TEST_KUBECONFIG")
check "/readyz answers ok" output_has ok "${k[@]}" get --raw /readyz
check "kubectl is v1.37.2" output_has v1.37.2 "${k[@]}" version
check "ServiceAccount default/default exists" "${k[@]}" get serviceaccount default -n default
check "ConfigMap kube-root-ca.crt exists" "${k[@]}" get configmap kube-root-ca.crt -n kube-system
check "a ConfigMap can be created" "${k[@]}" create configmap smoke -n default --from-literal=a=b
check "a token can be requested" "${k[@]}" create token default -n default
check "the admin token works without kubectl" curl -sf --cacert "$CSI_BLKIO_TEST_CA" \
	-H "Authorization: Bearer $CSI_BLKIO_TEST_TOKEN" "$CSI_BLKIO_TEST_APISERVER/api/v1/namespaces/default"
timed "apiserver down" "$CLUSTER_DIR/apiserver.sh" down "$dir"
trap - EXIT
check "kubectl cached nothing under ~/.kube" no_kube_cache_outside "$CSI_BLKIO_TEST_APISERVER_PORT"
check "no process mentions $dir" no_process_mentions "$dir"
check "$dir is removed" test ! -e "$dir"

# --- a whole node ----------------------------------------------------------------
echo "=== node"
# Host paths kubelet, containerd, CNI and controller-manager write when not
# told otherwise: which exist must not change.
host_paths() {
	local p
	for p in /var/lib/kubelet /var/lib/cni /var/lib/containerd /run/containerd /run/netns \
		/var/log/containers /var/log/pods /usr/libexec/kubernetes /etc/cni /opt/cni /opt/containerd; do
		[ -e "$p" ] && echo "$p"
	done
	true
}
paths_before=$(host_paths)
# The system's own mounts (others' test mounts come and go under /tmp).
system_mounts() { awk '$5 == "/" || $5 ~ "^/(proc|sys|dev|run|mnt)(/|$)" {print $5}' /proc/self/mountinfo | sort; }
mounts_before=$(system_mounts)
# Pod veths and the bridge are the links a node makes (others' links may come and go).
node_links() { ip -o link show | awk -F': ' '$2 ~ /^(veth|csiblkio)/ {print $2}' | sort; }
links_before=$(node_links)
s_before=$(ls /run/containerd/s 2>/dev/null || true)
had_kubepods=$(ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null || true)
dir=$(mktemp -d /tmp/csiblkio-test-smoke.XXXXXX)
trap '"$CLUSTER_DIR/node.sh" down "$dir"' EXIT
timed "node up" "$CLUSTER_DIR/node.sh" up "$dir"
eval "$("$CLUSTER_DIR/node.sh" env "$dir")"
k=("$CSI_BLKIO_TEST_KUBECTL" --kubeconfig "$CSI_BLKIO_TEST_KUBECONFIG")

# A second node must be refused while this one runs.
other=$(mktemp -d /tmp/csiblkio-test-smoke.XXXXXX)
check "a second node is refused" output_has "already runs" "$CLUSTER_DIR/node.sh" up "$other"
rm -rf "$other" # up stamped it before refusing

# A Guaranteed pod that keeps running (its cgroup is kubepods/pod<UID>) ...
"${k[@]}" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: smoke-sleep, namespace: default}
spec:
  nodeName: $CSI_BLKIO_TEST_NODE_NAME
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: sleep
    image: $CSI_BLKIO_TEST_BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: [sleep, "3600"]
    resources:
      requests: {cpu: 100m, memory: 32Mi}
      limits: {cpu: 100m, memory: 32Mi}
YAML
timed "first pod Ready" "${k[@]}" wait --for=condition=Ready pod/smoke-sleep --timeout=90s
uid=$("${k[@]}" get pod smoke-sleep -o jsonpath='{.metadata.uid}')
check "Guaranteed pod cgroup kubepods/pod$uid exists (blkio)" test -d "/sys/fs/cgroup/blkio/kubepods/pod$uid"
check "the container runs in a child of the pod cgroup" bash -c \
	"ls -d /sys/fs/cgroup/blkio/kubepods/pod$uid/*/ | grep -q ."

# ... and a BestEffort pod that writes a file with dd into an emptyDir and exits.
"${k[@]}" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: smoke-dd, namespace: default}
spec:
  nodeName: $CSI_BLKIO_TEST_NODE_NAME
  restartPolicy: Never
  containers:
  - name: dd
    image: $CSI_BLKIO_TEST_BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: [sh, -c, "dd if=/dev/zero of=/data/file bs=1M count=8 conv=fsync && ls -l /data/file"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, emptyDir: {}}]
YAML
timed "dd pod Succeeded" "${k[@]}" wait --for=jsonpath='{.status.phase}'=Succeeded pod/smoke-dd --timeout=90s
check "kubectl logs shows dd's record count" output_has "8+0 records out" "${k[@]}" logs smoke-dd
check "kubectl logs shows the 8 MiB file" output_has " 8388608 " "${k[@]}" logs smoke-dd
check "kubectl exec works" output_has "hello" "${k[@]}" exec smoke-sleep -- echo hello

# Down with the sleeping pod still running: down must clean it up.
timed "node down" "$CLUSTER_DIR/node.sh" down "$dir"
trap - EXIT
check "no process mentions $dir" no_process_mentions "$dir"
check "nothing is mounted under $dir" nothing_mounted_under "$dir"
check "$dir is removed" test ! -e "$dir"
check "no pod cgroup of this run remains" bash -c "[ -z \"\$(ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null)\" ] || [ -n '$had_kubepods' ]"
check "the bridge csiblkio-test0 is gone" bash -c "! ip link show dev csiblkio-test0"
check "no veth or csiblkio link was left" test "$links_before" = "$(node_links)"
check "no shim socket was left in /run/containerd/s" test "$s_before" = "$(ls /run/containerd/s 2>/dev/null || true)"
check "no /var/log/containers link into $dir" no_link_into "$dir"
check "no loop device backed by a file under $dir" no_loop_under "$dir"
check "the same host paths exist as before ($(echo $paths_before))" test "$paths_before" = "$(host_paths)"
check "the system mounts (/, /proc, /sys, cgroups, /dev, /run, /mnt) are unchanged" test "$mounts_before" = "$(system_mounts)"
check "the one-node marker is gone" test ! -e /run/csiblkio-test-node
check "no shim or kubelet process remains" no_live_shim_or_kubelet "$dir"

echo "=== wall times"
printf '  %s\n' "${times[@]}"
if [ $failures -ne 0 ]; then
	echo "=== $failures check(s) failed" >&2
	exit 1
fi
echo "=== cluster smoke test passed"
