# shellcheck shell=bash
# Sourced by hack/e2e-v2.sh: tells a node VM whose console went silent apart
# into a guest that hangs (a defect to debug) and an emulated machine that
# stopped executing (no verdict on anything the guest runs).
#
# The guest prints at least a heartbeat a minute (vm-run.sh). Once its
# console has been silent for stall_secs, the watch asks qemu's monitor
# where the virtual CPUs are, then asks the guest's kernel for the blocked
# tasks and every CPU's backtrace with SysRq (Alt+SysRq through the emulated
# keyboard: handled in the kernel's interrupt path, so a guest whose user
# space is wedged still answers), and stops the VM. Without the watch a
# silent VM ran until the 25-minute boot timeout and left nothing to read.
#
# Needs socat. The caller sets stall_secs and starts qemu with
# -monitor unix:SOCKET,server=on,wait=off and the kernel parameter
# sysrq_always_enabled.
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

# watch_console PID RAWLOG SOCKET: waits while qemu PID runs. Returns 0 when
# qemu ended by itself. When RAWLOG stops growing for stall_secs, it prints
# what it finds out, kills qemu and returns
#   3  the guest's kernel answered SysRq: the guest is alive and its node
#      hangs (the backtraces are printed);
#   4  it did not answer within a minute: the emulated machine stopped.
watch_console() {
	local pid=$1 raw=$2 sock=$3 size last=-1 quiet=0 mark
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
		local i cpus
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
		local waited=0
		while [ "$waited" -lt 60 ] && [ "$(stat -c %s "$raw")" = "$mark" ]; do
			sleep 5
			waited=$((waited + 5))
		done
		sleep 10 # let the answer finish printing
		local answer
		answer=$(tail -c +"$((mark + 1))" "$raw" | tr -d '\r')
		stop_vm "$pid" "$sock"
		if [ -n "$answer" ]; then
			echo "e2e-v2: the guest's kernel answered: the guest runs and its node hangs. Its answer:" >&2
			echo "$answer" | head -n 400 >&2
			return 3
		fi
		echo "e2e-v2: the guest's kernel did not answer in 60 s: the emulated machine stopped executing" >&2
		return 4
	done
	return 0
}
