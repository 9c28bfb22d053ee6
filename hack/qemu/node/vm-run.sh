#!/bin/bash
# Runs inside the cgroup v2 node VM (hack/e2e-v2.sh), started by systemd from
# the payload disk mounted at /opt/payload. On the first boot it makes the VM
# a Kubernetes node: containerd with the systemd cgroup driver, etcd and the
# control plane on loopback, the kubelet with cgroupDriver systemd, all as
# enabled systemd units so that a reboot brings them back by themselves. On
# every boot it waits for the node and runs the e2ev2 tests of the phase the
# kernel command line names (csiblkio.phase=first|reboot).
#
# The host reads the serial console:
#   @@e2ev2 step NAME seconds=S     after each set-up step
#   @@e2ev2 result exit=N [reason=WHY]  once, last; then the VM powers off
set -uo pipefail
P=/opt/payload
STATE=/var/lib/csiblkio-test
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export KUBECONFIG=/etc/kubernetes/admin.kubeconfig

phase=first
read -r -a cmdline </proc/cmdline
for arg in "${cmdline[@]}"; do
	case $arg in csiblkio.phase=*) phase=${arg#*=} ;; esac
done

finish() {
	timeline
	echo "@@e2ev2 result exit=$1${2:+ reason=$2}"
	sync
	systemctl poweroff --no-block
	exit 0
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }
t_step=$(uptime_s)
step_done() {
	local now
	now=$(uptime_s)
	echo "@@e2ev2 step $1 seconds=$(awk -v a="$t_step" -v b="$now" 'BEGIN {printf "%.1f", b - a}') uptime=$now"
	t_step=$now
}
# wait_for WHAT SECS CMD...: polls CMD every second for SECS seconds of
# wall time (a kubectl call alone takes seconds under emulation, so a count
# of tries would wait far longer than SECS).
wait_for() {
	local what=$1 secs=$2 out
	shift 2
	local end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do
		out=$("$@" 2>&1) && return 0
		sleep 1
	done
	echo "e2ev2: $what not within $secs s; last output:"
	echo "$out" | tail -n 20
	return 1
}
# timeline prints where the boot's time went: when the node's units started
# and became active, and what the apiserver and etcd logged while they
# started (monotonic seconds since boot, comparable with the step lines).
timeline() {
	# systemd-analyze refuses while this payload's own oneshot unit still
	# runs (the boot is not finished): the units' own timestamps instead.
	echo "--- timeline: units ($phase boot), seconds since boot: start -> active"
	local u
	for u in systemd-udev-trigger systemd-udev-settle local-fs.target csiblkio-payload containerd etcd kube-apiserver \
		kube-controller-manager kube-scheduler kubelet multi-user.target; do
		systemctl show -p InactiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic "$u" 2>/dev/null |
			awk -F= -v u="$u" '{v[$1] = $2 / 1e6} END {printf "  %-24s %7.1f -> %7.1f\n", u, v["InactiveExitTimestampMonotonic"], v["ActiveEnterTimestampMonotonic"]}'
	done
	echo "--- timeline: kube-apiserver"
	journalctl -b -u kube-apiserver -o short-monotonic --no-pager 2>/dev/null |
		grep -E 'Started|Serving securely|Caches are synced|poststarthook|Trace\[|took too long|Error|error' | head -n 60
	echo "--- timeline: etcd warnings: $(journalctl -b -u etcd --no-pager 2>/dev/null | grep -c 'slow fdatasync') slow fdatasync," \
		"$(journalctl -b -u etcd --no-pager 2>/dev/null | grep -c 'took too long') requests that took too long"
	journalctl -b -u etcd -o short-monotonic --no-pager 2>/dev/null | head -n 20
	echo "--- timeline: load $(cat /proc/loadavg), up $(uptime_s) s"
}
dump() {
	echo "--- systemctl --failed"
	systemctl --no-pager --failed
	for u in "$@"; do
		echo "--- journal of $u"
		journalctl --no-pager -b -u "$u" | tail -n 40
	done
}

echo "e2ev2: phase $phase, kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)," \
	"cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers), systemd $(systemctl --version | head -1), up $(uptime_s) s"
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || finish 99 "not-unified-cgroup2"

# pin_cfs_bandwidth keeps the kernel's CPU bandwidth control switched on for
# the whole boot. The kernel turns it on when the first cgroup gets a CPU
# quota (cpu.max other than "max": here the Guaranteed test pod) and off when
# the last one loses it, and each turn rewrites the scheduler's code in place
# (a static key). On this 6.1 kernel under qemu's multi-threaded emulation,
# writers flipping it back and forth froze a two-CPU VM within a minute, both
# CPUs spinning with interrupts off at the patched site in update_curr; a CI
# run froze, most likely the same way, as its Guaranteed pod started
# (docs/operations.md, "A silent console is examined"). With one unit
# holding a quota no pod reaches (1000 CPUs, on two), set while CPU 1 is
# offline, the switch turns once, on one CPU, and never again: the unit has
# no default dependencies, so shutdown does not stop it either.
pin_cfs_bandwidth() {
	local cpu1=/sys/devices/system/cpu/cpu1/online unit=csiblkio-cfs-pin rc
	echo 0 >"$cpu1" || return 1
	systemd-run --quiet --unit="$unit" -p DefaultDependencies=no -p CPUQuota=100000% sleep infinity
	rc=$?
	echo 1 >"$cpu1" || return 1
	[ "$rc" -eq 0 ] || return 1
	echo "e2ev2: CPU bandwidth control pinned on by $unit.service (cpu.max $(cat "/sys/fs/cgroup/system.slice/$unit.service/cpu.max")), $(nproc) cpus online"
}
pin_cfs_bandwidth || finish 99 "cfs-bandwidth-pin"
# A heartbeat on the console every minute: the load and the processes
# using the CPU, so that a slow step in the host's log says what the
# emulated machine was busy with. It dies with the VM.
(
	while sleep 60; do
		echo "e2ev2: heartbeat up $(uptime_s) s, load $(cut -d' ' -f1-3 /proc/loadavg), busiest:" \
			"$(top -b -n 1 -o %CPU | awk 'NR > 7 && NR <= 11 {printf "%s %s%%  ", $12, $9}')"
	done
) &

if [ ! -f "$STATE/configured" ]; then
	[ "$phase" = first ] || finish 99 "reboot-phase-on-unconfigured-disk"
	"$P/node-setup.sh" || { dump containerd kubelet kube-apiserver etcd; finish 99 "node-setup"; }
	mkdir -p "$STATE"
	touch "$STATE/configured"
	step_done node-setup
fi

# The RBAC bootstrap hook is left out of the wait: it reconciles the default
# roles, which took about 2 minutes of emulated CPU at every start, and
# nothing here waits on those roles: the tests, the kubelet and the
# controllers authenticate as system:masters, and the plugin's service
# account is bound to the chart's own roles.
wait_for "kube-apiserver /readyz" 300 kubectl get --raw '/readyz?verbose&exclude=poststarthook/rbac/bootstrap-roles' ||
	{ dump etcd kube-apiserver; finish 99 "apiserver"; }
step_done apiserver-ready
node=$(hostname)
wait_for "node $node Ready" 300 kubectl wait --for=condition=Ready --timeout=5s node "$node" ||
	{ kubectl describe node "$node"; dump kubelet containerd; finish 99 "node-ready"; }
step_done node-ready

set -a
# shellcheck source=/dev/null
source "$P/env"
set +a
export CSI_BLKIO_E2EV2_PHASE=$phase CSI_BLKIO_E2EV2_STATE=$STATE CSI_BLKIO_E2EV2_CHART=$P/chart
cd /tmp || finish 99 "cd"
# Each boot runs its own test; -run (first boot only) narrows it.
case $phase in
first) run=${CSI_BLKIO_E2EV2_RUN:-^TestNode\$} ;;
*) run=^TestAfterReboot\$ ;;
esac
"$P/bin/e2ev2.test" -test.v -test.timeout="${CSI_BLKIO_E2EV2_TEST_TIMEOUT:-1500s}" -test.run="$run" 2>&1
rc=$?
step_done tests
[ $rc -eq 0 ] || dump kubelet containerd
finish $rc
