# shellcheck shell=bash
# Helpers shared by hack/cluster/*.sh. Source it; do not run it.
#
# A cluster directory DIR holds everything one cluster needs and makes:
#   env            KEY=VALUE lines for callers (see README.md)
#   pids/NAME.pid  one file per process started, killed by `down`
#   logs/NAME.log  the process's stdout and stderr
#   pki/           CA, serving certificates, service-account key, token file
# Every process started here carries DIR in its command line; `down` checks
# that before it signals a PID, so a recycled PID is never killed by mistake.

CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$CLUSTER_DIR/../.." && pwd)
# shellcheck source=../lib.sh
source "$REPO_DIR/hack/lib.sh"

log() { echo "[$(date +%T)] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# require_safe_dir DIR: dies unless DIR can be a cluster directory. `down`
# unmounts, detaches and removes everything below DIR, so an empty, relative,
# top-level or system path, or a mount point, must never get that far.
require_safe_dir() {
	local d=$1
	case $d in
	/*/*) ;;
	*) die "refusing '$d': a cluster DIR is an absolute path at least two levels deep (e.g. from mktemp -d)" ;;
	esac
	case $d in
	/proc/* | /sys/* | /dev/* | /run/* | /etc/* | /usr/* | /boot/* | /var/lib/* | /var/log/*)
		die "refusing '$d': a cluster DIR must not be inside a system directory" ;;
	esac
	if awk -v d="$d" '$5 == d {f = 1} END {exit !f}' /proc/self/mountinfo; then
		die "refusing '$d': it is a mount point, and a cluster DIR must be a plain directory"
	fi
}

# The stamp `up` writes first into an empty DIR. Only a directory holding it
# is torn down: everything in it was made by this cluster.
CLUSTER_STAMP=.csiblkio-test-cluster

# require_cluster_dir DIR: require_safe_dir, and DIR carries the stamp.
require_cluster_dir() {
	require_safe_dir "$1"
	[ -f "$1/$CLUSTER_STAMP" ] || die "refusing '$1': it was not made by hack/cluster (no $CLUSTER_STAMP in it)"
}

# cluster_dir CMD DIR: sets the global DIR_ABS to DIR as a checked absolute
# path for subcommand CMD (a variable, not stdout: an `exit` in a $(...)
# subshell would not end the script). `up` needs DIR absent or empty and
# stamps it; `down` of a missing DIR has nothing to do and exits 0.
cluster_dir() {
	local cmd=$1 d=$2
	[ -n "$d" ] || die "DIR is empty"
	if [ ! -d "$d" ]; then
		case $cmd in
		up) mkdir -p "$d" ;;
		down) log "$d does not exist: nothing to tear down"; exit 0 ;;
		*) die "$d: no such directory (is a cluster up there?)" ;;
		esac
	fi
	DIR_ABS=$(cd "$d" && pwd -P)
	if [ "$cmd" = up ]; then
		require_safe_dir "$DIR_ABS"
		[ -z "$(ls -A "$DIR_ABS")" ] || die "$DIR_ABS is not empty: give up a new or empty directory (e.g. mktemp -d)"
		touch "$DIR_ABS/$CLUSTER_STAMP"
	else
		require_cluster_dir "$DIR_ABS"
	fi
}

# cluster_main NAME PREFLIGHT UP DOWN CMD DIR: the up|env|down command of
# apiserver.sh and node.sh. PREFLIGHT DIR runs before `up` starts anything
# (a refusal there tears nothing down); a failed or interrupted UP DIR runs
# DOWN DIR, so a failed start leaves no half cluster behind.
cluster_main() {
	local name=$1 preflight=$2 up=$3 down=$4
	shift 4
	[ $# -eq 2 ] || die "usage: $0 up|down|env DIR"
	local cmd=$1 dir start=$SECONDS
	cluster_dir "$cmd" "$2"
	dir=$DIR_ABS
	# kubectl's discovery and HTTP caches (default ~/.kube/cache) go in DIR.
	export KUBECACHEDIR=$dir/kube-cache
	case $cmd in
	up)
		"$preflight" "$dir"
		# (DIR is expanded now: the trap runs after this function's locals are gone.)
		# shellcheck disable=SC2064,SC2154 # expanded now on purpose; rc is set inside the trap
		trap "rc=\$?; [ \$rc -eq 0 ] || { log '$name up failed: tearing down'; $down '$dir'; }" EXIT
		"$up" "$dir"
		trap - EXIT
		log "$name up in $((SECONDS - start)) s: KUBECONFIG=$dir/kubeconfig"
		;;
	env) print_env "$dir" ;;
	down)
		"$down" "$dir"
		log "$name down in $((SECONDS - start)) s"
		;;
	*) die "usage: $0 up|down|env DIR" ;;
	esac
}

# --- ports -------------------------------------------------------------------

_taken_ports=" "

# free_port VAR: sets VAR to a TCP port that nothing listens on (a variable,
# not stdout: a $(...) subshell would forget the ports already handed out). Other engineers run
# their own clusters on this machine, so no well-known port (2379, 6443, 10250)
# is assumed free. Ports come from 20000-31999, below the kernel's ephemeral
# range (32768+), so outgoing connections do not take them meanwhile.
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		case $_taken_ports in *" $p "*) continue ;; esac
		if [ -z "$(ss -Htln "sport = :$p")" ]; then
			_taken_ports+="$p "
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	die "no free TCP port found in 20000-31999"
}

# --- processes -----------------------------------------------------------------

# start_proc DIR NAME CMD...: starts CMD in the background in its own session
# (so a Ctrl-C meant for the caller does not kill it before `down` has torn
# things down in order), logs to DIR/logs/NAME.log, records its PID.
start_proc() {
	local dir=$1 name=$2; shift 2
	mkdir -p "$dir/pids" "$dir/logs"
	# Without job control a background child is not a process group leader,
	# so setsid(1) calls setsid(2) and execs CMD: $! is CMD's own PID.
	# CMD must not inherit the fd of node.sh's lock (a flock lives as long as
	# any process holding its fd: `down` could never take it).
	if [ -n "${node_lock_fd:-}" ]; then
		setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null {node_lock_fd}>&- &
	else
		setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
	fi
	echo $! >"$dir/pids/$name.pid"
	log "started $name (pid $!, log $dir/logs/$name.log)"
}

# proc_ours DIR PID: true when PID is alive and its command line mentions DIR.
# A zombie has an empty command line and counts as gone. So does, for a moment,
# a process in the middle of execve(2): the kernel installs the new program's
# memory before it records the new arguments, and /proc/PID/cmdline reads empty
# in between. start_proc's child goes through two execs (setsid, then the
# daemon), and the first wait_proc looks right away: an empty read of a live
# process there made `up` report "kube-apiserver exited" with an empty log on a
# busy machine (measured: 8 of 300 starts of a setsid child read empty at once).
# So an empty or missing read is taken again, up to 5 times 50 ms apart, unless
# the process is a zombie; exec finishes in microseconds to milliseconds.
proc_ours() {
	local dir=$1 pid=$2 cmdline _
	for _ in 1 2 3 4 5; do
		cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || cmdline=
		if [ -n "$cmdline" ]; then
			case $cmdline in *"$dir"*) return 0 ;; *) return 1 ;; esac
		fi
		case $(ps -o stat= -p "$pid" 2>/dev/null) in Z*) return 1 ;; esac
		sleep 0.05
	done
	return 1
}

# pgrep_live PGREP_ARGS...: like pgrep, without zombies. Killed daemons are
# re-parented to PID 1, which may reap them late; a zombie holds nothing.
pgrep_live() {
	local pid
	for pid in $(pgrep "$@"); do
		case $(ps -o stat= -p "$pid" 2>/dev/null) in Z* | "") ;; *) echo "$pid" ;; esac
	done
}

# proc_running DIR NAME: true when the process recorded as NAME is ours and alive.
proc_running() {
	local pidfile="$1/pids/$2.pid"
	[ -f "$pidfile" ] && proc_ours "$1" "$(cat "$pidfile")"
}

# kill_pid DIR PID [TIMEOUT]: SIGTERM, then SIGKILL after TIMEOUT seconds
# (default 10); does nothing unless the PID is ours.
kill_pid() {
	local dir=$1 pid=$2 timeout=${3:-10}
	proc_ours "$dir" "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	local deadline=$((SECONDS + timeout))
	while proc_ours "$dir" "$pid"; do
		if [ $SECONDS -ge $deadline ]; then
			log "pid $pid did not stop after SIGTERM: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
			break
		fi
		sleep 0.1
	done
}

# stop_proc DIR NAME [TIMEOUT]: stops the process recorded as NAME.
stop_proc() {
	local dir=$1 name=$2 pidfile="$1/pids/$2.pid"
	[ -f "$pidfile" ] || return 0
	kill_pid "$dir" "$(cat "$pidfile")" "${3:-10}"
	rm -f "$pidfile"
}

# wait_for DESC TIMEOUT CMD...: retries CMD every 0.2 s until it succeeds;
# fails after TIMEOUT seconds, naming DESC.
wait_for() {
	local desc=$1 timeout=$2; shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || { log "timed out after ${timeout}s waiting for $desc"; return 1; }
		sleep 0.2
	done
}

# wait_proc DIR NAME DESC TIMEOUT CMD...: wait_for, but fails at once (with
# the end of NAME's log) when the process recorded as NAME has exited.
wait_proc() {
	local dir=$1 name=$2 desc=$3 timeout=$4; shift 4
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		require_running "$dir" "$name" || return 1
		[ $SECONDS -lt $deadline ] || { log "timed out after ${timeout}s waiting for $desc (log: $dir/logs/$name.log)"; return 1; }
		sleep 0.2
	done
}

# require_running DIR NAME...: fails, with the end of its log, if a process died.
require_running() {
	local dir=$1; shift
	for name in "$@"; do
		if ! proc_running "$dir" "$name"; then
			log "$name exited; last lines of $dir/logs/$name.log:"
			tail -n 30 "$dir/logs/$name.log" >&2 || true
			return 1
		fi
	done
}

# try CMD...: runs a teardown step; a failure is logged and teardown goes
# on (bash ignores set -e inside CMD here, so a step does all it can).
try() {
	"$@" || log "teardown step failed (exit $?): $*"
}

# --- env file ------------------------------------------------------------------

# env_set DIR KEY VALUE: records KEY=VALUE in DIR/env (read by `env`).
env_set() {
	touch "$1/env"
	sed -i "/^$2=/d" "$1/env"
	printf '%s=%s\n' "$2" "$3" >>"$1/env"
}

# env_get DIR KEY: prints the value of KEY from DIR/env.
env_get() {
	[ -f "$1/env" ] || return 0
	sed -n "s/^$2=//p" "$1/env" | tail -n 1
}

# print_env DIR: DIR/env as `export KEY='VALUE'` lines for eval.
print_env() {
	[ -f "$1/env" ] || die "$1/env missing: is a cluster up in $1?"
	local k v
	while IFS='=' read -r k v; do
		printf "export %s='%s'\n" "$k" "$v"
	done <"$1/env"
}
