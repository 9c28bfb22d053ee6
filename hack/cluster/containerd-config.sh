# shellcheck shell=bash
# The containerd and CNI configuration of a test node. Two nodes use it:
# the one on this host (hack/cluster/node.sh: cgroupfs driver, everything
# under its own directory, root without CAP_SYS_RESOURCE) and the cgroup v2
# node VM (hack/qemu/node/node-setup.sh: systemd driver, the distribution's
# paths), which sources it from its payload disk (hack/e2e-v2.sh copies it
# there beside node-setup.sh). Source it; it defines functions only.

# containerd_cri_config PAUSE_IMAGE SYSTEMD_CGROUP CNI_CONF_DIR [CRI_EXTRA [RUNC_EXTRA]]:
# prints containerd's (config version 2) snapshotter choice and CRI plugin
# table: the sandbox image PAUSE_IMAGE (imported, nothing is pulled), no
# AppArmor, no TCP stream server (the kubelet streams on loopback), overlayfs,
# runc with SystemdCgroup = SYSTEMD_CGROUP (true or false: the kubelet's
# cgroup driver), CNI plugins from Debian's /usr/lib/cni with their
# configuration in CNI_CONF_DIR. CRI_EXTRA is more lines of the CRI table,
# RUNC_EXTRA more lines of runc's options, each indented as they go. The
# caller writes `version = 2` and its top-level keys and tables first (TOML
# wants top-level keys before the first table).
containerd_cri_config() {
	local pause=$1 systemd_cgroup=$2 cni_conf_dir=$3 cri_extra=${4:-} runc_extra=${5:-}
	cat <<TOML
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"
  disable_apparmor = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
${cri_extra:+$cri_extra
}  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = $systemd_cgroup
${runc_extra:+$runc_extra
}  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$cni_conf_dir"
TOML
}

# containerd_disabled_plugins: the top-level line that keeps the
# snapshotters a test node does not use off. (The v1 runtime must stay:
# containerd 1.6's tasks service does not start without it.)
containerd_disabled_plugins() {
	cat <<'TOML'
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
TOML
}

# cni_bridge_conflist NETWORK BRIDGE POD_CIDR [IPAM_DATA_DIR]: prints the
# CNI network of the node's pods: a bridge that is the pods' gateway, no IP
# masquerade (pods need no route off the machine, and ipMasq would add
# iptables rules), host-local addresses from POD_CIDR, its leases in
# IPAM_DATA_DIR when given (else host-local's default).
cni_bridge_conflist() {
	local network=$1 bridge=$2 cidr=$3 data_dir=${4:-}
	cat <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$network",
  "plugins": [{
    "type": "bridge",
    "bridge": "$bridge",
    "isGateway": true,
    "ipMasq": false,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": "$cidr"}]],
      "routes": [{"dst": "0.0.0.0/0"}]${data_dir:+,
      \"dataDir\": \"$data_dir\"}
    }
  }]
}
JSON
}
