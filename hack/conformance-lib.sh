# shellcheck shell=bash
# Helpers of hack/conformance.sh, run inside the node (with.sh exported the
# CSI_BLKIO_TEST_* variables). Source it; do not run it.

# shellcheck source=cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster/lib.sh"

CONF_RELEASE=csi-blkio
CONF_NAMESPACE=csiblkio-test-system
CONF_DRIVER=blkio.csi.dev

conf_kubectl() { "$CSI_BLKIO_TEST_KUBECTL" --kubeconfig "$CSI_BLKIO_TEST_KUBECONFIG" "$@"; }

# install_plugin WORK PLUGIN_IMAGE PROVISIONER_IMAGE RESIZER_IMAGE: helm install of
# charts/csi-blkio as this node needs it, then waits until the kubelet has
# registered the driver (CSINode lists it).
install_plugin() {
	local work=$1 plugin=$2 provisioner=$3 resizer=$4 health_port metrics_port
	free_port health_port
	free_port metrics_port
	# Images cannot be pulled; no node-driver-registrar or livenessprobe
	# (neither builds here: csi-blkio registers with the kubelet and answers
	# /healthz itself); host networking with the apiserver on 127.0.0.1 (no
	# kube-proxy); the state dir on the kubelet's rshared root dir, which the
	# Bidirectional mount of inline volumes' staging dirs needs.
	cat >"$work/values.yaml" <<YAML
image: {repository: ${plugin%:*}, tag: "${plugin##*:}", pullPolicy: Never}
node:
  kubeletDir: $CSI_BLKIO_TEST_KUBELET_DIR
  stateDir: $CSI_BLKIO_TEST_KUBELET_DIR/csiblkio-test-state
  hostNetwork: true
  healthPort: $health_port
  logLevel: 4
  extraEnv:
    - {name: KUBERNETES_SERVICE_HOST, value: 127.0.0.1}
    - {name: KUBERNETES_SERVICE_PORT, value: "$CSI_BLKIO_TEST_APISERVER_PORT"}
metrics: {enabled: true, port: $metrics_port}
sidecars:
  provisioner:
    image: {repository: ${provisioner%:*}, tag: "${provisioner##*:}", pullPolicy: Never}
    # The capacity suite waits for CSIStorageCapacity of a class it has
    # just created: publish within seconds, not the default minute.
    capacityPollInterval: 10s
  resizer:
    image: {repository: ${resizer%:*}, tag: "${resizer##*:}", pullPolicy: Never}
  nodeDriverRegistrar: {enabled: false}
  livenessProbe: {enabled: false}
YAML
	"$CSI_BLKIO_CONF_HELM" --kubeconfig "$CSI_BLKIO_TEST_KUBECONFIG" install "$CONF_RELEASE" charts/csi-blkio \
		--namespace "$CONF_NAMESPACE" --create-namespace --values "$work/values.yaml" --wait --timeout 3m \
		>"$work/helm-install.log" 2>&1 || { cat "$work/helm-install.log" >&2; plugin_logs; return 1; }

	for _ in $(seq 120); do
		if conf_kubectl get csinode "$CSI_BLKIO_TEST_NODE_NAME" -o jsonpath='{.spec.drivers[*].name}' 2>/dev/null |
			grep -qw "$CONF_DRIVER"; then
			return 0
		fi
		sleep 0.5
	done
	echo "the kubelet did not register $CONF_DRIVER within 60 s" >&2
	plugin_logs
	return 1
}

# plugin_logs: the plugin's pods and their last log lines, for a failure.
plugin_logs() {
	conf_kubectl get pods -n "$CONF_NAMESPACE" -o wide >&2 || true
	conf_kubectl logs -n "$CONF_NAMESPACE" -l app.kubernetes.io/component=node \
		--all-containers --tail=60 --prefix >&2 || true
}

# skip_regex FILE: the --skip regex of a skips file, whose lines are
# "REGEX ;; REASON" (blank lines and # comments ignored).
skip_regex() {
	local line re out=""
	while IFS= read -r line; do
		case $line in '' | '#'*) continue ;; esac
		re=${line%% ;; *}
		out+="${out:+|}($re)"
	done <"$1"
	echo "$out"
}
