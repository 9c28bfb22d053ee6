#!/usr/bin/env bash
# The cgroup v2 kernel tier: boots a Debian 6.1 kernel under qemu (software
# emulation: KVM does not work on these machines) with an initramfs holding the
# test binaries of ./test/v2kernel/... (built with -tags v2kernel), runs them
# against the real io.max/io.stat of that kernel and turns the serial log into
# pass/fail.
#
# usage: hack/qemu/run.sh [-run REGEX] [-bench REGEX]
#        (-bench runs the matching benchmarks once each, and no tests unless
#        -run names some; their figures are the log's Benchmark lines)
# env:   CSI_BLKIO_QEMU_TIMEOUT  seconds before the VM is killed (default 300)
#        CSI_BLKIO_QEMU_KERNEL   kernel package (default: linux-image-amd64's)
#        CSI_BLKIO_QEMU_LOG      where the serial log goes (default _output/qemu/serial.log)
#
# qemu, busybox and the kernel are fetched once and cached under $CACHE.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
source hack/lib.sh
source hack/qemu/kernel.sh
source hack/qemu/initramfs.sh

run_regex=
bench_regex=
while [ $# -gt 0 ]; do
	case $1 in
	-run) run_regex=$2; shift 2 ;;
	-bench) bench_regex=$2; shift 2 ;;
	*) echo "usage: $0 [-run REGEX] [-bench REGEX]" >&2; exit 2 ;;
	esac
done
if [[ $run_regex$bench_regex == *[[:space:]]* ]]; then
	echo "-run and -bench REGEX must not contain spaces (they travel on the kernel command line)" >&2
	exit 2
fi

vm_timeout=${CSI_BLKIO_QEMU_TIMEOUT:-300}
out=_output/qemu
log=${CSI_BLKIO_QEMU_LOG:-$out/serial.log}
mkdir -p "$out" "$CACHE/qemu"

t0=$(now)

# --- tools and cached artefacts -------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	for c in qemu-system-x86_64 busybox; do
		command -v "$c" >/dev/null || { echo "not root and $c is missing: skipping the cgroup v2 tier"; exit 0; }
	done
else
	apt_install qemu-system-x86 xz-utils "${QEMU_HOST_PACKAGES[@]}"
fi
# One fetch/build at a time per cache: other runs on this machine share it.
exec 9>"$CACHE/qemu/lock"
flock 9
kernel_dir=$(qemu_kernel)
base=$(qemu_base_initramfs "$kernel_dir")
flock -u 9
echo "kernel: $(cat "$kernel_dir/package"), base initramfs: $base ($(since "$t0") s)"

# --- test binaries ---------------------------------------------------------
t1=$(now)
mapfile -t pkgs < <(go list -tags v2kernel -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./test/v2kernel/...)
if [ ${#pkgs[@]} -eq 0 ]; then
	echo "no test packages under ./test/v2kernel (build tag v2kernel)" >&2
	exit 1
fi
go vet -tags v2kernel "${pkgs[@]}"
rm -rf "$out/tests"
mkdir -p "$out/tests"
CGO_ENABLED=0 go test -c -tags v2kernel -o "$out/tests/" "${pkgs[@]}"
# The driver's end-to-end test serves the real binary inside the VM.
rm -rf "${out:?}/bin"
mkdir -p "$out/bin"
if [ -d cmd/csi-blkio ]; then
	CGO_ENABLED=0 go build -o "$out/bin/csi-blkio" ./cmd/csi-blkio
fi
qemu_run_initramfs hack/qemu/init "$out/tests" "$out/bin" "$out/run.cpio"
qemu_join_initramfs "$base" "$out/run.cpio" >"$out/initrd"
echo "test binaries: $(cd "$out/tests" && echo *) $(cd "$out/bin" && echo *) ($(since "$t1") s, initrd $(du -h "$out/initrd" | cut -f1))"

# --- boot ------------------------------------------------------------------
kernel=$kernel_dir/vmlinuz
[ -f "$kernel_dir/vmlinux" ] && kernel=$kernel_dir/vmlinux
# Each test binary gets a -test.timeout shorter than the VM's, so that a hung
# test panics with its goroutines' stacks on the console before the VM is killed.
test_timeout=$((vm_timeout - 30 > vm_timeout / 2 ? vm_timeout - 30 : vm_timeout / 2))
append="console=ttyS0 quiet panic=-1 v2kernel.timeout=$test_timeout${run_regex:+ v2kernel.run=$run_regex}${bench_regex:+ v2kernel.bench=$bench_regex}"
t2=$(now)
set +e
# -nodefaults: no NIC, no VGA; the only device the tests see is what they make.
timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
	-nodefaults -no-user-config -display none -no-reboot \
	-accel tcg -cpu max -smp 2 -m 1024 \
	-serial stdio -monitor none \
	-kernel "$kernel" -initrd "$out/initrd" -append "$append" \
	</dev/null 2>&1 | tr -d '\r' | tee "$log"
qemu_rc=${PIPESTATUS[0]}
set -e
boot_s=$(since "$t2")

# --- verdict ----------------------------------------------------------------
result=$(grep -a '^@@v2kernel result exit=' "$log" | tail -1 || true)
passed=$(grep -ac -- '--- PASS: ' "$log" || true)
failed=$(grep -ac -- '--- FAIL: ' "$log" || true)
skipped=$(grep -ac -- '--- SKIP: ' "$log" || true)
benchmarks=$(grep -ac '^Benchmark[^ ]*[[:space:]]\+[0-9]' "$log" || true)
echo "=== v2kernel: vm ${boot_s} s (qemu exit $qemu_rc), total $(since "$t0") s, serial log $log"
grep -a '^@@v2kernel end ' "$log" | sed 's/^@@v2kernel end /    /' || true
grep -a -- '--- FAIL: \|--- SKIP: ' "$log" | sed 's/^ */    /' || true
grep -a '^Benchmark[^ ]*[[:space:]]\+[0-9]' "$log" | sed 's/^/    /' || true

verdict=ok
if [ -z "$result" ]; then
	if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
		echo "v2kernel: the VM was killed after ${vm_timeout} s without a result line (hang?); see $log" >&2
	else
		echo "v2kernel: the VM stopped (qemu exit $qemu_rc) without a result line (kernel panic or init crash?); see $log" >&2
	fi
	verdict=fail
elif [ "$result" != "@@v2kernel result exit=0" ]; then
	echo "v2kernel: $result" >&2
	verdict=fail
fi
# Inside the VM everything a test needs is there: a skip means a guard misfired.
if [ "$skipped" -ne 0 ]; then
	echo "v2kernel: $skipped test(s) skipped inside the VM; they must run there" >&2
	verdict=fail
fi
if [ -n "$result" ] && [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$benchmarks" -eq 0 ]; then
	echo "v2kernel: no test passed and no benchmark ran (did -run or -bench match nothing?)" >&2
	verdict=fail
fi
echo "v2kernel: $passed passed, $failed failed, $skipped skipped${bench_regex:+, $benchmarks benchmarks}"
[ "$verdict" = ok ]
