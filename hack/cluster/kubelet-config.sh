# shellcheck shell=bash
# The KubeletConfiguration of a test node. Two nodes use it: the one on this
# host (hack/cluster/node.sh: cgroupfs driver, everything under its own
# directory) and the cgroup v2 node VM (hack/qemu/node/node-setup.sh:
# systemd driver, the distribution's paths), which sources it from its
# payload disk (hack/e2e-v2.sh copies it there beside node-setup.sh).
# Source it; it defines functions only.

# kubelet_config CGROUP_DRIVER RUNTIME_SOCK ADDRESS PKI_DIR MEMORY_AVAILABLE:
# prints the KubeletConfiguration both nodes share: the cgroup driver
# CGROUP_DRIVER (cgroupfs or systemd, as runc's SystemdCgroup in
# containerd-config.sh), containerd at unix socket RUNTIME_SOCK, the
# kubelet's server on ADDRESS with PKI_DIR/kubelet.{crt,key}, and hard
# eviction only below MEMORY_AVAILABLE of memory. The caller appends the
# top-level keys of its own node after it.
kubelet_config() {
	local cgroup_driver=$1 runtime_sock=$2 address=$3 pki=$4 memory_available=$5
	cat <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: $cgroup_driver
failSwapOn: false
containerRuntimeEndpoint: unix://$runtime_sock
address: $address
readOnlyPort: 0
tlsCertFile: $pki/kubelet.crt
tlsPrivateKeyFile: $pki/kubelet.key
# The apiserver calls the kubelet (logs, exec) with no client certificate.
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
# Images cannot be pulled again: never garbage-collect them. Eviction only
# when the node is really out of space (a test node's disk is shared).
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "$memory_available"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
  imagefs.inodesFree: "1%"
YAML
}
