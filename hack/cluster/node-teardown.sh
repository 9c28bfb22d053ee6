# shellcheck shell=bash
# Teardown of a node started by node.sh. Source it (node.sh does).
#
# Order matters: pods are deleted while kubelet, containerd and any CSI plugin
# still run (so volumes are unpublished by the plugin that published them),
# then the processes stop, then what they leave on the host is removed. Every
# step tolerates a half-started node (a failed `up` calls this too) and only
# touches what carries DIR in its path or command line, or what this node
# created (host-*-before files record what existed at `up`).

# Directories at hard-coded host paths that kubelet, containerd and CNI
# create when missing (children before parents). `up` records which existed;
# `down` removes the others when they are empty.
HOST_DIRS=(/var/log/containers /var/log/pods /run/containerd/s /run/containerd/fifo /run/containerd/runc/k8s.io
	/run/containerd/runc /run/containerd /var/lib/cni/results /var/lib/cni
	/var/lib/kubelet/device-plugins /var/lib/kubelet)

# node_down DIR: tears the node in DIR down and removes DIR.
node_down() {
	local dir=$1
	require_cluster_dir "$dir"
	local kubectl sock=$dir/containerd/containerd.sock
	kubectl=$(env_get "$dir" CSI_BLKIO_TEST_KUBECTL)

	# No controller may re-create what is deleted next (DaemonSet pods).
	try stop_proc "$dir" kube-controller-manager
	try stop_proc "$dir" kube-scheduler
	if [ -n "$kubectl" ] && proc_running "$dir" kube-apiserver && proc_running "$dir" kubelet; then
		try delete_pods "$dir" "$kubectl"
	fi
	# kubelet leaves running containers behind when it stops (by design).
	try stop_proc "$dir" kubelet 20

	local ids=()
	if proc_running "$dir" containerd; then
		mapfile -t ids < <(ctr --address "$sock" --namespace k8s.io containers ls -q 2>/dev/null || true)
		try remove_tasks "$sock"
	fi
	try stop_proc "$dir" containerd 15
	try kill_leftover_processes "$dir"

	try unmount_under "$dir"
	try detach_loops_under "$dir"
	try remove_cgroups "$dir"
	try remove_host_files "$dir" "$sock" "${ids[@]+"${ids[@]}"}"
	if ip link show dev "$CNI_BRIDGE" >/dev/null 2>&1; then
		try ip link delete "$CNI_BRIDGE"
	fi
	if [ "$(cat "$NODE_MARKER" 2>/dev/null)" = "$dir" ]; then
		rm -f "$NODE_MARKER"
	fi
	apiserver_down "$dir"
}

# delete_pods DIR KUBECTL: deletes every pod, workload pods first and
# DaemonSet pods (CSI node plugins) last, each with a short grace period.
delete_pods() {
	local dir=$1
	local k=("$2" --kubeconfig "$dir/kubeconfig")
	local round pods
	for round in workloads daemonsets; do
		pods=$("${k[@]}" get pods -A --no-headers \
			-o custom-columns=NS:.metadata.namespace,NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].kind 2>/dev/null |
			awk -v r="$round" '(r == "daemonsets") == ($3 == "DaemonSet") {print $1 "/" $2}') || true
		[ -n "$pods" ] || continue
		log "deleting $round pods: ${pods//$'\n'/ }"
		local p
		for p in $pods; do
			"${k[@]}" delete pod -n "${p%/*}" "${p#*/}" --grace-period=2 --wait=false >/dev/null 2>&1 || true
		done
		for p in $pods; do
			if ! "${k[@]}" wait --for=delete pod -n "${p%/*}" "${p#*/}" --timeout=60s >/dev/null 2>&1; then
				log "pod $p did not go away in 60 s: force-deleting (containers are killed below)"
				"${k[@]}" delete pod -n "${p%/*}" "${p#*/}" --grace-period=0 --force >/dev/null 2>&1 || true
			fi
		done
	done
}

# remove_tasks SOCK: kills and deletes every task (container process) in the
# k8s.io namespace of this node's containerd; their shims exit with them.
remove_tasks() {
	local c=(ctr --address "$1" --namespace k8s.io) id
	for id in $("${c[@]}" tasks ls -q 2>/dev/null); do
		"${c[@]}" tasks kill --all --signal SIGKILL "$id" >/dev/null 2>&1 || true
	done
	for id in $("${c[@]}" tasks ls -q 2>/dev/null); do
		"${c[@]}" tasks delete --force "$id" >/dev/null 2>&1 || true
	done
}

# kill_leftover_processes DIR: shims of this containerd (their command line
# names its socket under DIR) and any process still in a pod cgroup that this
# node created (a container whose shim was killed).
kill_leftover_processes() {
	local dir=$1 pid cg
	for pid in $(pgrep_live -f containerd-shim); do
		kill_pid "$dir" "$pid" 5
	done
	for cg in $(new_pod_cgroups "$dir"); do
		[ -f "$cg/cgroup.procs" ] || continue
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null || true
		done <"$cg/cgroup.procs"
	done
}

# new_pod_cgroups DIR: the kubepods cgroup directories (every hierarchy) that
# did not exist at `up`, deepest first. None when `up` recorded nothing.
new_pod_cgroups() {
	local dir=$1 cg
	local -a roots=(/sys/fs/cgroup/*/kubepods)
	[ -f "$dir/host-cgroups-before" ] && [ -e "${roots[0]}" ] || return 0
	find "${roots[@]}" -depth -type d 2>/dev/null | while read -r cg; do
		grep -qxF "$cg" "$dir/host-cgroups-before" 2>/dev/null || echo "$cg"
	done
}

# unmount_under DIR: unmounts everything mounted below DIR, deepest
# first (kubelet's root-dir self bind mount, pod volumes, container rootfs,
# sandbox shm, network namespaces). Repeats: one path can hold stacked mounts.
unmount_under() {
	local dir=$1 mp
	require_cluster_dir "$dir"
	for _ in 1 2 3 4 5; do
		local mps
		mps=$(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r -u)
		[ -n "$mps" ] || return 0
		for mp in $mps; do
			umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
		done
	done
	log "still mounted under $dir after 5 passes: $mps"
}

# detach_loops_under DIR: detaches loop devices whose backing file is under
# DIR (volumes of a CSI plugin whose state dir is inside DIR).
detach_loops_under() {
	local dir=$1 dev file
	require_cluster_dir "$dir"
	losetup -n -l -O NAME,BACK-FILE 2>/dev/null | while read -r dev file; do
		case $file in "$dir"/*) losetup -d "$dev" || true ;; esac
	done
}

# remove_cgroups DIR: removes the pod cgroups this node's kubelet created.
# A cgroup can be removed only once its last task has exited: retry briefly.
remove_cgroups() {
	local dir=$1 cg
	for cg in $(new_pod_cgroups "$dir"); do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			rmdir "$cg" 2>/dev/null && break
			[ -d "$cg" ] || break
			sleep 0.2
		done
		[ ! -d "$cg" ] || log "could not remove cgroup $cg"
	done
}

# created_by_node DIR PATH: true when PATH did not exist at `up` (false when
# `up` recorded nothing: then nothing is known to be ours).
created_by_node() {
	[ -f "$1/host-paths-before" ] && ! grep -qxF "$2" "$1/host-paths-before"
}

# remove_host_files DIR SOCK ID...: what kubelet, containerd and CNI write
# outside DIR at hard-coded paths: /var/log/containers symlinks into DIR,
# the shim sockets /run/containerd/s/<sha256(SOCK/k8s.io/ID)> and CNI result
# caches of the containers ID..., kubelet's device-plugin socket, and the
# directories holding them when this node created them and they are empty.
remove_host_files() {
	local dir=$1 sock=$2; shift 2
	local f id
	require_cluster_dir "$dir"
	for f in /var/log/containers/*; do
		[ -L "$f" ] || continue
		case $(readlink "$f") in "$dir"/*) rm -f "$f" ;; esac
	done
	for id in "$@"; do
		# Container IDs are 64 hex digits; anything else must not reach rm.
		case $id in "" | *[!0-9a-f]*) continue ;; esac
		rm -f "/run/containerd/s/$(printf '%s' "$sock/k8s.io/$id" | sha256sum | cut -d' ' -f1)"
		rm -rf "/run/containerd/runc/k8s.io/$id"
		rm -f /var/lib/cni/results/*-"$id"-*
	done
	# The device-plugin registration socket's path is hard-coded in kubelet;
	# with kubelet stopped nothing listens on it.
	local devsock=/var/lib/kubelet/device-plugins/kubelet.sock
	if [ -S "$devsock" ] && [ -z "$(ss -Hxl "src $devsock")" ]; then
		rm -f "$devsock"
	fi
	for f in "${HOST_DIRS[@]}"; do
		if [ -d "$f" ] && created_by_node "$dir" "$f"; then
			rmdir "$f" 2>/dev/null || log "left $f: not empty"
		fi
	done
}
