#!/usr/bin/env bash
# A real single Kubernetes node on loopback, for the end-to-end tests:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd
# (Debian's) and kubelet (cgroupfs driver), everything under DIR.
# See hack/cluster/README.md.
#
#   node.sh up DIR     start (installs/builds what is missing), wait for node Ready
#   node.sh env DIR    print `export KEY=...` lines for eval
#   node.sh down DIR   stop everything by recorded PID, undo what kubelet and
#                      containerd left on the host, remove DIR
#
# Only one such node can run on a machine (kubelet owns the kubepods cgroups
# at the cgroup root): `up` refuses while another one runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apiserver.sh"
source "$CLUSTER_DIR/node-teardown.sh"
source "$CLUSTER_DIR/containerd-config.sh"
source "$CLUSTER_DIR/kubelet-config.sh"

NODE_NAME=localhost
# The CNI network, bridge and pod subnet. The bridge name carries the
# project's test prefix so a leftover is recognisable.
CNI_NETWORK=csiblkio-test
CNI_BRIDGE=csiblkio-test0
POD_CIDR=${CSI_BLKIO_TEST_POD_CIDR:-10.244.0.0/24}
# Records which directory the running node lives in (one node per machine).
NODE_MARKER=/run/csiblkio-test-node
NODE_LOCK=/run/csiblkio-test-node.lock

# lock_node: serialises node.sh up/down runs on this machine.
lock_node() {
	exec {node_lock_fd}>"$NODE_LOCK"
	flock -w 300 "$node_lock_fd" || die "another node.sh up/down holds $NODE_LOCK"
}

# refuse_second_node DIR: fails when a node (ours from another DIR, or any
# kubelet) already runs on this machine.
refuse_second_node() {
	local dir=$1 other pid
	if [ -f "$NODE_MARKER" ]; then
		other=$(cat "$NODE_MARKER")
		for c in kubelet containerd kube-apiserver; do
			if proc_running "$other" "$c"; then
				[ "$other" = "$dir" ] && die "a node already runs from $dir; stop it with: $0 down $dir"
				die "a test node already runs on this machine from $other (only one can: kubelet owns the kubepods cgroups); stop it with: $0 down $other"
			fi
		done
	fi
	pid=$(pgrep_live -x kubelet | head -n 1)
	if [ -n "$pid" ]; then
		die "a kubelet not started by node.sh runs on this machine (pid $pid); refusing to start a second one"
	fi
}

# record_host_state DIR: what existed before `up`, so `down` removes only
# what this node created (another run's leftovers are not ours to delete).
record_host_state() {
	local dir=$1
	local -a cg=(/sys/fs/cgroup/*/kubepods)
	{ [ -e "${cg[0]}" ] && find "${cg[@]}" -type d; } >"$dir/host-cgroups-before" 2>/dev/null || true
	local p
	for p in "${HOST_DIRS[@]}"; do
		[ -e "$p" ] && echo "$p"
	done >"$dir/host-paths-before" || true
}

# write_containerd_config DIR PAUSE_IMAGE: containerd with its own root,
# state, socket and CNI config under DIR.
write_containerd_config() {
	local dir=$1 pause=$2 c=$1/containerd
	mkdir -p "$c" "$dir/cni/net.d" "$dir/cni/ipam"
	{
		cat <<TOML
version = 2
root = "$c/root"
state = "$c/state"
TOML
		containerd_disabled_plugins
		cat <<TOML

[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"

TOML
		# restrict_oom_score_adj is required here: root lacks
		# CAP_SYS_RESOURCE, and runc fails to lower oom_score_adj ("can't
		# get final child's PID from pipe: EOF") without it. Pod network
		# namespaces go under DIR instead of /var/run/netns; runc keeps its
		# state there too.
		containerd_cri_config "$pause" false "$dir/cni/net.d" \
			'  restrict_oom_score_adj = true
  disable_hugetlb_controller = true
  tolerate_missing_hugetlb_controller = true
  netns_mounts_under_state_dir = true' \
			"        Root = \"$c/runc\""
	} >"$c/config.toml"
	# host-local keeps its leases under DIR.
	cni_bridge_conflist "$CNI_NETWORK" "$CNI_BRIDGE" "$POD_CIDR" "$dir/cni/ipam" >"$dir/cni/net.d/10-$CNI_NETWORK.conflist"
}

# write_kubelet_config DIR PORT HEALTHZ_PORT: the KubeletConfiguration.
write_kubelet_config() {
	local dir=$1 port=$2 healthz_port=$3
	{
		kubelet_config cgroupfs "$dir/containerd/containerd.sock" 127.0.0.1 "$dir/pki" 100Mi
		cat <<YAML
# This host mounts cgroup v1 for IO; kubelet 1.37 refuses v1 unless told.
failCgroupV1: false
oomScoreAdj: 0
port: $port
healthzBindAddress: 127.0.0.1
healthzPort: $healthz_port
podLogsDir: $dir/pod-logs
volumePluginDir: $dir/kubelet-volume-plugins
YAML
	} >"$dir/kubelet-config.yaml"
}

# node_up DIR
node_up() {
	local dir=$1
	echo "$dir" >"$NODE_MARKER"
	record_host_state "$dir" # first: a failed `up` runs `down`, which reads it
	touch "$dir/node"        # tells apiserver.sh down that this DIR is a node
	apt_install containerd runc busybox-static containernetworking-plugins openssl curl iproute2 >&2
	if ip route show to match "${POD_CIDR%/*}" | grep -qv "^default"; then
		die "pod subnet $POD_CIDR overlaps a route of this host; set CSI_BLKIO_TEST_POD_CIDR"
	fi
	local kube pause busybox
	kube=$("$REPO_DIR/hack/tools/kube.sh")
	pause=$("$REPO_DIR/hack/images/pause.sh")
	busybox=$("$REPO_DIR/hack/images/busybox.sh")

	apiserver_up "$dir"
	local kubeconfig=$dir/kubeconfig kubectl=$kube/kubectl

	# Serving ports 0: neither needs to be reached, and fixed ports would collide.
	start_proc "$dir" kube-controller-manager "$kube/kube-controller-manager" \
		--kubeconfig="$kubeconfig" --leader-elect=false --secure-port=0 \
		--service-account-private-key-file="$dir/pki/sa.key" --root-ca-file="$dir/pki/ca.crt" \
		--cluster-signing-cert-file="$dir/pki/ca.crt" --cluster-signing-key-file="$dir/pki/ca.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" --profiling=false \
		--flex-volume-plugin-dir="$dir/kcm-volume-plugins"
	start_proc "$dir" kube-scheduler "$kube/kube-scheduler" \
		--kubeconfig="$kubeconfig" --leader-elect=false --secure-port=0 --profiling=false

	write_containerd_config "$dir" "$pause"
	local sock=$dir/containerd/containerd.sock
	start_proc "$dir" containerd containerd --config "$dir/containerd/config.toml"
	wait_proc "$dir" containerd "containerd" 30 ctr --address "$sock" --connect-timeout 1s version
	"$REPO_DIR/hack/images/pause.sh" --import "$sock" >/dev/null
	"$REPO_DIR/hack/images/busybox.sh" --import "$sock" >/dev/null

	local kubelet_port healthz_port
	free_port kubelet_port
	free_port healthz_port
	pki_serving "$dir/pki" kubelet "$NODE_NAME" "DNS:localhost,IP:127.0.0.1"
	write_kubelet_config "$dir" "$kubelet_port" "$healthz_port"
	mkdir -p "$dir/kubelet"
	start_proc "$dir" kubelet "$kube/kubelet" --config="$dir/kubelet-config.yaml" \
		--kubeconfig="$kubeconfig" --root-dir="$dir/kubelet" --cert-dir="$dir/kubelet/pki" \
		--hostname-override="$NODE_NAME" -v=2

	wait_proc "$dir" kubelet "node $NODE_NAME registered" 60 "$kubectl" --kubeconfig "$kubeconfig" get node "$NODE_NAME"
	wait_proc "$dir" kubelet "node $NODE_NAME Ready" 60 "$kubectl" --kubeconfig "$kubeconfig" wait --for=condition=Ready \
		--timeout=5s node "$NODE_NAME"
	# The node lifecycle controller lifts the not-ready taint shortly after
	# Ready; scheduled pods (PVC binding tests) need it gone.
	# shellcheck disable=SC2016 # $1..$3 are the inner bash's arguments
	wait_proc "$dir" kube-controller-manager "node $NODE_NAME untainted" 60 \
		bash -c '[ -z "$("$1" --kubeconfig "$2" get node "$3" -o jsonpath="{.spec.taints}")" ]' \
		_ "$kubectl" "$kubeconfig" "$NODE_NAME"

	env_set "$dir" CSI_BLKIO_TEST_NODE_NAME "$NODE_NAME"
	env_set "$dir" CSI_BLKIO_TEST_CONTAINERD_SOCK "$sock"
	env_set "$dir" CSI_BLKIO_TEST_KUBELET_DIR "$dir/kubelet"
	env_set "$dir" CSI_BLKIO_TEST_BUSYBOX_IMAGE "$busybox"
	env_set "$dir" CSI_BLKIO_TEST_PAUSE_IMAGE "$pause"
}

# node_preflight DIR: root, the machine-wide lock, and no other node.
node_preflight() {
	[ "$(id -u)" -eq 0 ] || die "a node needs root (mounts, cgroups, containers)"
	lock_node
	refuse_second_node "$1"
}

# node_down_cmd DIR: `node.sh down` (and the teardown of a failed `up`,
# which already holds the lock).
node_down_cmd() {
	[ "$(id -u)" -eq 0 ] || die "node down needs root"
	[ -n "${node_lock_fd:-}" ] || lock_node
	node_down "$1"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cluster_main node node_preflight node_up node_down_cmd "$@"
fi
