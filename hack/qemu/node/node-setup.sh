#!/bin/bash
# First boot of the cgroup v2 node VM (called by vm-run.sh): installs the
# binaries and certificates from the payload, writes the containerd, CNI and
# kubelet configuration for the systemd cgroup driver, makes every component
# an enabled systemd unit (so that a reboot brings the node back without this
# script), imports the images and starts everything.
set -euo pipefail
P=/opt/payload
NODE=$(hostname)
# The node's address: the VM has no network card (only loopback), and the
# kubelet refuses a loopback node IP, so a dummy interface carries one. A
# default route through it gives the kubelet's address detection an answer;
# nothing leaves the VM through it.
NODE_IF=csiblkio-test0
NODE_IP=10.201.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
# mark WHAT: a line on the serial console with the seconds since boot, so
# that the host's log shows where the set-up's time goes.
mark() { echo "e2ev2: node-setup: $1 at $(cut -d' ' -f1 /proc/uptime) s"; }

mark "start"
install -m 0755 "$P"/bin/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kubectl,helm} /usr/local/bin/
mkdir -p /etc/kubernetes/pki /var/lib/kubelet /var/lib/etcd /etc/cni/net.d /etc/containerd
cp "$P"/pki/* /etc/kubernetes/pki/
chmod 600 /etc/kubernetes/pki/*.key
sed "s|@PKI@|/etc/kubernetes/pki|" "$P/admin.kubeconfig" >/etc/kubernetes/admin.kubeconfig
echo "$NODE_IP $NODE" >>/etc/hosts

unit() { cat >"/etc/systemd/system/$1"; }

unit csiblkio-node-net.service <<EOF
[Unit]
Description=the node's address on a dummy interface (the VM has no network card)
Before=containerd.service kubelet.service kube-apiserver.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/modprobe dummy
ExecStart=/usr/sbin/ip link add $NODE_IF type dummy
ExecStart=/usr/sbin/ip addr add $NODE_IP/24 dev $NODE_IF
ExecStart=/usr/sbin/ip link set $NODE_IF up
ExecStart=/usr/sbin/ip route add default dev $NODE_IF
[Install]
WantedBy=multi-user.target
EOF

# Modules the node needs before the kubelet: overlay (containerd's
# snapshotter), br_netfilter and the bridge (CNI), loop (the plugin).
printf '%s\n' overlay bridge br_netfilter veth loop >/etc/modules-load.d/csiblkio-test.conf
printf 'net.ipv4.ip_forward = 1\n' >/etc/sysctl.d/90-csiblkio-test.conf

# etcd without fsync: the VM's disk is a throwaway copy, and a clean
# poweroff (the only way the tests end a boot) still writes everything out
# before the reboot boot reads it. Under software emulation every fsync is
# a journal commit the emulated CPU pays for, on the path of every write
# the control plane makes.
unit etcd.service <<'EOF'
[Unit]
Description=etcd for the test node's apiserver (loopback only)
[Service]
ExecStart=/usr/local/bin/etcd --name=default --data-dir=/var/lib/etcd \
  --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster=default=http://127.0.0.1:2380 --log-level=warn --unsafe-no-fsync
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
EOF

pki=/etc/kubernetes/pki
# --enable-priority-and-fairness=false: one node with a handful of clients
# needs no request queueing, and the apiserver then neither creates nor
# keeps up its flow-control objects, work an emulated CPU does slowly at
# every start.
unit kube-apiserver.service <<EOF
[Unit]
Description=kube-apiserver on loopback
After=etcd.service csiblkio-node-net.service
Wants=etcd.service
[Service]
ExecStart=/usr/local/bin/kube-apiserver --etcd-servers=http://127.0.0.1:2379 \\
  --bind-address=127.0.0.1 --advertise-address=$NODE_IP --secure-port=6443 \\
  --tls-cert-file=$pki/apiserver.crt --tls-private-key-file=$pki/apiserver.key \\
  --client-ca-file=$pki/ca.crt --token-auth-file=$pki/tokens.csv \\
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \\
  --service-account-key-file=$pki/sa.pub --service-account-signing-key-file=$pki/sa.key \\
  --authorization-mode=RBAC --service-cluster-ip-range=$SERVICE_CIDR \\
  --allow-privileged=true --endpoint-reconciler-type=none \\
  --kubelet-certificate-authority=$pki/ca.crt --kubelet-preferred-address-types=Hostname,InternalIP \\
  --profiling=false --enable-priority-and-fairness=false
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
EOF

# The apiserver's clients start once it listens. At a reboot systemd would
# start them all at once, and their start-up (informers, TLS, retries
# against a server that is not there yet) would take the emulated CPUs from
# the apiserver's own start, which everything waits for anyway. A bash
# /dev/tcp probe costs nothing beside a kubectl call per try.
cat >/usr/local/sbin/csiblkio-wait-apiserver <<'EOF'
#!/bin/bash
until (exec 3<>/dev/tcp/127.0.0.1/6443) 2>/dev/null; do sleep 2; done
EOF
chmod 755 /usr/local/sbin/csiblkio-wait-apiserver

# Only the controllers the tests need: the default ServiceAccount and the
# kube-root-ca.crt ConfigMap of every namespace (every pod mounts its
# token), claim binding, attach/detach (a real node's volume flow), the
# plugin's DaemonSet, and node lifecycle: the apiserver's
# TaintNodesByCondition admission taints a new node not-ready, and only
# that controller lifts the taint once the node is Ready (without it no
# workload pod is ever scheduled; DaemonSet pods tolerate it). The others, the garbage collector and the quota
# controller above all, start an informer for every resource the apiserver
# serves, work the emulated CPUs would do beside the apiserver's own start.
unit kube-controller-manager.service <<EOF
[Unit]
Description=kube-controller-manager
After=kube-apiserver.service
[Service]
TimeoutStartSec=infinity
ExecStartPre=/usr/local/sbin/csiblkio-wait-apiserver
ExecStart=/usr/local/bin/kube-controller-manager --kubeconfig=/etc/kubernetes/admin.kubeconfig \\
  --leader-elect=false --secure-port=0 --profiling=false \\
  --service-account-private-key-file=$pki/sa.key --root-ca-file=$pki/ca.crt \\
  --cluster-signing-cert-file=$pki/ca.crt --cluster-signing-key-file=$pki/ca.key \\
  --service-cluster-ip-range=$SERVICE_CIDR --use-service-account-credentials=false \\
  --controllers=serviceaccount-controller,root-ca-certificate-publisher-controller,persistentvolume-binder-controller,persistentvolume-attach-detach-controller,daemonset-controller,node-lifecycle-controller
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
EOF

unit kube-scheduler.service <<'EOF'
[Unit]
Description=kube-scheduler
After=kube-apiserver.service
[Service]
TimeoutStartSec=infinity
ExecStartPre=/usr/local/sbin/csiblkio-wait-apiserver
ExecStart=/usr/local/bin/kube-scheduler --kubeconfig=/etc/kubernetes/admin.kubeconfig \
  --leader-elect=false --secure-port=0 --profiling=false
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
EOF

# containerd with runc's systemd cgroup driver: every container is a
# transient scope below its pod's slice, created through systemd.
# shellcheck source=../../cluster/containerd-config.sh
source "$P/containerd-config.sh"
{
	echo "version = 2"
	containerd_disabled_plugins
	containerd_cri_config "$(cat "$P/pause-image")" true /etc/cni/net.d
} >/etc/containerd/config.toml
cni_bridge_conflist csiblkio-test csiblkio-br0 "$POD_CIDR" >/etc/cni/net.d/10-csiblkio-test.conflist

# The node setup most clusters run: unified cgroup v2, the systemd driver
# (kubepods.slice and its children are systemd units). The apiserver reaches
# the kubelet (logs, exec) at the node's address on the dummy interface; the
# VM has no other network to be reached from.
# shellcheck source=../../cluster/kubelet-config.sh
source "$P/kubelet-config.sh"
kubelet_config systemd /run/containerd/containerd.sock 0.0.0.0 "$pki" 50Mi >/etc/kubernetes/kubelet-config.yaml
touch /etc/resolv.conf

unit kubelet.service <<'EOF'
[Unit]
Description=kubelet (systemd cgroup driver)
After=containerd.service csiblkio-node-net.service kube-apiserver.service
Wants=containerd.service
[Service]
TimeoutStartSec=infinity
ExecStartPre=/usr/local/sbin/csiblkio-wait-apiserver
ExecStart=/usr/local/bin/kubelet --config=/etc/kubernetes/kubelet-config.yaml \
  --kubeconfig=/etc/kubernetes/admin.kubeconfig --v=2
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
EOF

# Stop jobs get 15 s instead of systemd's 90 s. The test pods' containers run
# sleep as their PID 1, which ignores SIGTERM, so every container scope waits
# out the whole stop timeout at poweroff before it is killed: 70-90 s of each
# first boot was that wait. A real node's operator may keep 90 s; the kill is
# the same either way, and the volumes are unmounted after it.
mkdir -p /etc/systemd/system.conf.d
printf '[Manager]\nDefaultTimeoutStopSec=15s\n' >/etc/systemd/system.conf.d/csiblkio-test.conf
mark "binaries installed, units written"
# daemon-reexec, not daemon-reload: it also rereads the manager's own
# configuration (the stop timeout above) along with the new units.
systemctl daemon-reexec
systemctl enable -q containerd csiblkio-node-net etcd kube-apiserver kube-controller-manager kube-scheduler kubelet
systemctl restart systemd-modules-load systemd-sysctl
systemctl start csiblkio-node-net containerd etcd kube-apiserver
mark "containerd, etcd, kube-apiserver started"
for _ in $(seq 60); do ctr version >/dev/null 2>&1 && break; sleep 1; done
for img in "$P"/images/*.tar; do
	ctr -n k8s.io images import "$img" >/dev/null
	mark "imported ${img##*/} ($(du -m "$img" | cut -f1) MiB)"
done
systemctl start kube-controller-manager kube-scheduler kubelet
mark "controller-manager, scheduler, kubelet started"
