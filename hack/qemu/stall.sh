# shellcheck shell=bash
# Sourced by hack/e2e-v2.sh: tells a node VM whose console went silent apart
# into a guest that hangs (a defect to debug) and an emulated machine that
# stopped executing (no verdict on anything the guest runs).
#
# The guest prints at least a heartbeat a minute (vm-run.sh). Once its
# console has been silent for stall_secs, the watch asks qemu's monitor
# where the virtual CPUs are and then asks the guest's kernel, in two steps:
#   1. SysRq w and l (Alt+SysRq on the emulated keyboard): the blocked tasks
#      and every CPU's backtrace. The kernel handles them in its interrupt
#      path, so a guest whose user space is wedged still answers;
#   2. if it does not, an NMI: with unknown_nmi_panic the kernel panics and
#      prints the backtrace of a CPU that runs with interrupts off (a hard
#      lockup, which nothing else reports: these virtual CPUs have no PMU
#      for the NMI watchdog).
# Then it stops the VM. Without the watch a silent VM ran until the
# 25-minute boot timeout and left nothing to read.
#
# Needs socat. The caller sets stall_secs and starts qemu with
# -monitor unix:SOCKET,server=on,wait=off and the kernel parameters
# sysrq_always_enabled and unknown_nmi_panic.
: "${stall_secs:?set stall_secs before sourcing stall.sh}"

# vm_monitor SOCKET CMD...: sends HMP commands to qemu's monitor and prints
# the answers without the prompt, the banner and the line editor's escapes.
vm_monitor() {
	local sock=$1
	shift
	printf '%s\n' "$@" | socat -t 3 - "UNIX-CONNECT:$sock" 2>&1 |
		tr -d '\r' | sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g; s/^\(qemu\) ?//' |
		grep -av '^QEMU [0-9.].* monitor' || true
}

# vm_cpus SOCKET: one line per virtual CPU: its instruction pointer and
# whether it sits in HLT (idle, waiting for an interrupt).
vm_cpus() {
	vm_monitor "$1" "info registers -a" |
		awk '/^CPU#/ {cpu = $1} /^RIP=/ {rip = $1} /HLT=/ {match($0, /HLT=[01]/); print "  " cpu " " rip " " substr($0, RSTART, RLENGTH)}'
}

# stop_vm PID SOCKET: asks qemu to quit, then signals the timeout(1) of PID
# and, should qemu not be gone 20 s later, kills it.
stop_vm() {
	local pid=$1 sock=$2 i
	vm_monitor "$sock" quit >/dev/null
	kill "$pid" 2>/dev/null || true
	for i in $(seq 20); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 1
	done
	pkill -KILL -P "$pid" 2>/dev/null || true
	kill -KILL "$pid" 2>/dev/null || true
}

# console_since RAWLOG MARK SECS: waits up to SECS for RAWLOG to grow past
# MARK bytes, then 10 s more for the rest of the answer, and prints what
# was added (nothing if it did not grow).
console_since() {
	local raw=$1 mark=$2 secs=$3 waited=0
	while [ "$waited" -lt "$secs" ] && [ "$(stat -c %s "$raw")" = "$mark" ]; do
		sleep 5
		waited=$((waited + 5))
	done
	[ "$(stat -c %s "$raw")" = "$mark" ] || sleep 10
	tail -c +"$((mark + 1))" "$raw" | tr -d '\r'
}

# answered_sysrq TEXT: whether TEXT holds the kernel's answer to the keys
# (its "sysrq: " headers) or to the NMI (a backtrace or the panic it caused).
answered_sysrq() {
	grep -qE 'sysrq: |NMI' <<<"$1"
}

# Lockups of the guest's own kernel (Debian's 6.1) in code that no part of
# csi-blkio or its tests calls, each a backtrace frame and what it is. A boot
# that ends in one of them reached no verdict on the node's code.
#
# tg_set_cfs_bandwidth: a write to a cgroup's cpu.max (the CPU controller's
# quota; the plugin writes only io.max) spinning with interrupts off on
# another CPU's run-queue lock, which that CPU never released. A CI run on
# 2026-12-04 (kernel 6.1.192, two emulated CPUs) went silent 159 s into its
# first boot, most likely as systemd gave the Guaranteed test pod's slice
# its quota; it answered neither SysRq key, and the NMI found the writer
# there. The CPU holding the lock was most likely frozen at the static key that turning CPU
# bandwidth control on or off rewrites (docs/operations.md has the stress
# runs that froze a VM that way); vm-run.sh now keeps that switch from
# turning, and this entry is for a lockup that comes anyway.
known_guest_lockups=(
	'tg_set_cfs_bandwidth|the CPU controller: a cpu.max write spinning on a run-queue lock'
)

# known_guest_lockup TEXT: prints what the first known lockup whose frame
# appears in TEXT (a kernel's backtrace) is; prints nothing if none does.
known_guest_lockup() {
	local entry frame
	for entry in "${known_guest_lockups[@]}"; do
		frame=${entry%%|*}
		if grep -qE "(^|[^A-Za-z0-9_])${frame}\+0x[0-9a-f]+/0x[0-9a-f]+" <<<"$1"; then
			echo "${entry#*|} (${frame})"
			return 0
		fi
	done
}

# watch_console PID RAWLOG SOCKET: waits while qemu PID runs. Returns 0 when
# qemu ended by itself. When RAWLOG stops growing for stall_secs, it prints
# what it finds out, stops qemu and returns
#   3  the console printed again: the guest's kernel answered SysRq or the
#      NMI (the guest runs and hangs), or it was only held back (the
#      message says which, and what it printed follows);
#   4  it answered neither: the emulated machine stopped executing;
#   5  the kernel's answer shows one of known_guest_lockups: the guest's
#      kernel locked up in code the node's tests do not exercise.
watch_console() {
	local pid=$1 raw=$2 sock=$3 size last=-1 quiet=0 mark answer i cpus lockup
	while kill -0 "$pid" 2>/dev/null; do
		sleep 10
		size=$(stat -c %s "$raw" 2>/dev/null || echo 0)
		if [ "$size" != "$last" ]; then
			last=$size quiet=0
			continue
		fi
		quiet=$((quiet + 10))
		[ "$quiet" -ge "$stall_secs" ] || continue

		echo "e2e-v2: no console output for $quiet s; the virtual CPUs, twice 5 s apart:" >&2
		for i in 1 2; do
			[ "$i" -eq 1 ] || sleep 5
			cpus=$(vm_cpus "$sock")
			echo "${cpus:-  (the monitor did not answer: qemu itself hangs)}" >&2
		done
		mark=$(stat -c %s "$raw")
		echo "e2e-v2: asking the guest's kernel for its blocked tasks and backtraces (SysRq w, l)" >&2
		vm_monitor "$sock" "sendkey alt-sysrq-w" >/dev/null
		sleep 2
		vm_monitor "$sock" "sendkey alt-sysrq-l" >/dev/null
		answer=$(console_since "$raw" "$mark" 60)
		if [ -z "$answer" ]; then
			echo "e2e-v2: no answer in 60 s; sending an NMI (a CPU with interrupts off panics with its backtrace)" >&2
			vm_monitor "$sock" nmi >/dev/null
			answer=$(console_since "$raw" "$mark" 30)
		fi
		stop_vm "$pid" "$sock"
		if [ -n "$answer" ]; then
			if answered_sysrq "$answer"; then
				echo "e2e-v2: the guest's kernel answered: the guest runs and hangs. Its answer:" >&2
			else
				# Held back, not hung, most likely; stopped all the same,
				# since a boot that went silent this long is not to be trusted.
				echo "e2e-v2: the console printed again, but not the kernel's answer to SysRq or the NMI: the guest was held back for $quiet s or more. Stopped as if it hung. What it printed:" >&2
			fi
			echo "$answer" | head -n 400 >&2
			lockup=$(known_guest_lockup "$answer")
			if [ -n "$lockup" ]; then
				echo "e2e-v2: that is a known lockup of the guest's kernel, in $lockup" >&2
				return 5
			fi
			return 3
		fi
		echo "e2e-v2: the guest's kernel answered neither SysRq nor the NMI: the emulated machine stopped executing" >&2
		return 4
	done
	return 0
}
