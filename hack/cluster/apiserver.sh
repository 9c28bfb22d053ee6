#!/usr/bin/env bash
# A real etcd 3.6 + kube-apiserver 1.37 on loopback, for the Kubernetes
# integration tests. See hack/cluster/README.md.
#
#   apiserver.sh up DIR     start (builds the binaries on first use), wait for /readyz
#   apiserver.sh env DIR    print `export KEY=...` lines (KUBECONFIG etc.) for eval
#   apiserver.sh down DIR   stop by recorded PID and remove DIR
#
# No controller-manager runs in this mode: the objects it would create and the
# tests need (ServiceAccount "default", ConfigMap kube-root-ca.crt) are created
# here; garbage collection does not run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_DIR/pki.sh"

SERVICE_CIDR=10.96.0.0/16

# apiserver_up DIR: starts etcd and kube-apiserver, writes DIR/env.
apiserver_up() {
	local dir=$1
	if proc_running "$dir" kube-apiserver; then
		die "an apiserver already runs from $dir (pid $(cat "$dir/pids/kube-apiserver.pid")); use: $0 down $dir"
	fi
	[ "$(id -u)" -ne 0 ] || apt_install openssl curl iproute2 >&2
	local etcd kube
	etcd=$("$REPO_DIR/hack/tools/etcd.sh")
	kube=$("$REPO_DIR/hack/tools/kube.sh")

	local etcd_port etcd_peer_port api_port
	free_port etcd_port
	free_port etcd_peer_port
	free_port api_port

	# Certificates and the admin token.
	local pki=$dir/pki token
	mkdir -p "$pki"
	pki_ca "$pki"
	pki_serving "$pki" apiserver kube-apiserver "IP:127.0.0.1,DNS:localhost,IP:${SERVICE_CIDR%.0/*}.1,DNS:kubernetes.default.svc"
	pki_sa "$pki"
	token=$(openssl rand -hex 24)
	echo "$token,admin,admin-uid,system:masters" >"$pki/tokens.csv"
	chmod 600 "$pki"/*.key "$pki/tokens.csv"

	# etcd: single member, loopback only. fsync off: the data is thrown away.
	start_proc "$dir" etcd "$etcd" --name=default --data-dir="$dir/etcd" \
		--listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
		--listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
		--initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
		--initial-cluster="default=http://127.0.0.1:$etcd_peer_port" \
		--unsafe-no-fsync --log-level=warn
	wait_proc "$dir" etcd "etcd /health" 30 curl -sf "http://127.0.0.1:$etcd_port/health"

	# --endpoint-reconciler-type=none: the default reconciler refuses a
	# loopback advertise address. The kubelet CA lets the apiserver verify the
	# kubelet's serving certificate (kubectl logs/exec), which node.sh signs.
	start_proc "$dir" kube-apiserver "$kube/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$etcd_port" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
		--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
		--client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
		--authorization-mode=RBAC --service-cluster-ip-range="$SERVICE_CIDR" \
		--allow-privileged=true --endpoint-reconciler-type=none \
		--kubelet-certificate-authority="$pki/ca.crt" --kubelet-preferred-address-types=Hostname,InternalIP \
		--profiling=false
	local url="https://127.0.0.1:$api_port"
	write_kubeconfig "$dir" "$url" "$token"

	wait_proc "$dir" kube-apiserver "kube-apiserver /readyz" 60 curl -sf --cacert "$pki/ca.crt" \
		-H "Authorization: Bearer $token" "$url/readyz"

	env_set "$dir" CSI_BLKIO_TEST_CLUSTER_DIR "$dir"
	env_set "$dir" CSI_BLKIO_TEST_KUBECONFIG "$dir/kubeconfig"
	env_set "$dir" KUBECONFIG "$dir/kubeconfig"
	env_set "$dir" KUBECACHEDIR "$dir/kube-cache"
	env_set "$dir" CSI_BLKIO_TEST_APISERVER "$url"
	env_set "$dir" CSI_BLKIO_TEST_APISERVER_PORT "$api_port"
	env_set "$dir" CSI_BLKIO_TEST_TOKEN "$token"
	env_set "$dir" CSI_BLKIO_TEST_CA "$pki/ca.crt"
	env_set "$dir" CSI_BLKIO_TEST_ETCD "http://127.0.0.1:$etcd_port"
	env_set "$dir" CSI_BLKIO_TEST_KUBECTL "$kube/kubectl"
	env_set "$dir" CSI_BLKIO_TEST_KUBE_BIN "$kube"

	bootstrap_objects "$dir" "$kube/kubectl"
}

# write_kubeconfig DIR URL TOKEN: DIR/kubeconfig for the admin (system:masters).
write_kubeconfig() {
	local dir=$1 url=$2 token=$3
	cat >"$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: csiblkio-test
  cluster:
    server: $url
    certificate-authority: $dir/pki/ca.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: csiblkio-test
  context:
    cluster: csiblkio-test
    user: admin
current-context: csiblkio-test
KC
	chmod 600 "$dir/kubeconfig"
}

# bootstrap_objects DIR KUBECTL: what kube-controller-manager would create
# and pods need: the "default" ServiceAccounts (the ServiceAccount admission
# plugin rejects pods without one) and the kube-root-ca.crt ConfigMaps
# (projected service-account volumes read them). Harmless when a
# controller-manager runs too: it finds them present and keeps them.
bootstrap_objects() {
	local dir=$1 kubectl=$2 ns objs=""
	for ns in default kube-system kube-public; do
		objs+="---
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: $ns}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-root-ca.crt, namespace: $ns}
data:
  ca.crt: |
$(sed 's/^/    /' "$dir/pki/ca.crt")
"
	done
	# The apiserver creates the system namespaces itself right after it is
	# ready; apply can race with that (AlreadyExists), so retry briefly.
	# shellcheck disable=SC2016 # $1..$3 are the inner bash's arguments
	wait_for "bootstrap objects" 30 bash -c 'printf "%s" "$1" | "$2" --kubeconfig "$3" apply -f -' _ \
		"$objs" "$kubectl" "$dir/kubeconfig"
}

# apiserver_down DIR: stops the apiserver, then etcd, and removes DIR.
apiserver_down() {
	local dir=$1
	require_cluster_dir "$dir"
	try stop_proc "$dir" kube-apiserver 5 # its data is thrown away: no long graceful drain
	try stop_proc "$dir" etcd 5
	# Never rm -rf across a mount still left below DIR.
	if awk -v d="$dir/" 'index($5, d) == 1 {f = 1} END {exit !f}' /proc/self/mountinfo; then
		die "mounts remain under $dir; not removing it (see: grep $dir /proc/self/mountinfo)"
	fi
	remove_dir "$dir"
}

# remove_dir DIR: removes DIR, or all of it but DIR/logs when
# CSI_BLKIO_TEST_KEEP_LOGS is set (for a CI artifact after a failure).
remove_dir() {
	local dir=$1
	require_cluster_dir "$dir"
	if [ -n "${CSI_BLKIO_TEST_KEEP_LOGS:-}" ]; then
		find "$dir" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
		log "kept logs in $dir/logs"
	else
		rm -rf "$dir"
	fi
}

# apiserver_down_cmd DIR: `apiserver.sh down`, which must not half-stop a node.
apiserver_down_cmd() {
	[ ! -f "$1/node" ] || die "$1 is a node: use hack/cluster/node.sh down $1"
	apiserver_down "$1"
}

# node.sh sources this file for its functions; run only when executed.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cluster_main apiserver true apiserver_up apiserver_down_cmd "$@"
fi
