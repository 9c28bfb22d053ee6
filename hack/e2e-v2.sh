#!/usr/bin/env bash
# The cgroup v2 + systemd end-to-end tier (root): a whole Kubernetes node in a
# qemu VM (software emulation), the setup most clusters run: systemd as PID 1,
# the unified cgroup v2 hierarchy, containerd with SystemdCgroup = true, the
# kubelet with cgroupDriver: systemd, and etcd and the control plane on the
# VM's loopback. The VM has no network card.
#
# The host builds everything (the cached disk image of hack/qemu/node-image.sh,
# the Kubernetes binaries, the images, the test binary of ./test/e2ev2) and
# hands the run's part over on a second virtual disk (the payload). The VM
# boots twice from a copy of the disk image:
#   first   makes the node, helm-installs the chart, runs the tests, leaves
#           volumes published and powers off;
#   reboot  boots the same disk again: the kubelet restages and republishes,
#           and the tests check the limits are back.
# The verdict comes from the serial console (@@e2ev2 result exit=N).
#
# usage: hack/e2e-v2.sh [-run REGEX]   (REGEX: go test -run of the first boot,
#        e.g. 'TestNode/workloads/pod_scope'; with it, the reboot boot is left out)
# env:   CSI_BLKIO_E2EV2_TIMEOUT  seconds before a boot is killed (default 1500)
#        CSI_BLKIO_E2EV2_MEM      VM memory in MiB (default 4096)
#        CSI_BLKIO_E2EV2_STALL    seconds of a silent console before the VM is
#                                 examined and stopped (default 240; the guest
#                                 prints a heartbeat a minute)
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
source hack/lib.sh
source hack/cluster/pki.sh

require_root "the cgroup v2 node tier" "debootstrap, the VM image"
run_regex=
while [ $# -gt 0 ]; do
	case $1 in
	-run) run_regex=$2; shift 2 ;;
	*) echo "usage: $0 [-run REGEX]" >&2; exit 2 ;;
	esac
done

vm_timeout=${CSI_BLKIO_E2EV2_TIMEOUT:-1500}
vm_mem=${CSI_BLKIO_E2EV2_MEM:-4096}
stall_secs=${CSI_BLKIO_E2EV2_STALL:-240}
source hack/qemu/stall.sh
out=_output/e2e-v2
t0=$(now)

apt_install qemu-system-x86 e2fsprogs openssl socat >/dev/null
rm -rf "$out"
mkdir -p "$out/payload/bin" "$out/payload/images" "$out/payload/pki"
pay=$out/payload

# --- what the VM runs ---------------------------------------------------------
image_dir=$(hack/qemu/node-image.sh)
kube=$(hack/tools/kube.sh)
cp "$kube"/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kubectl} "$pay/bin/"
cp "$(hack/tools/etcd.sh)" "$pay/bin/etcd"
# helm.sh prints a wrapper that keeps helm's state in the host's cache; the
# VM gets the binary itself (its state goes under /root there).
cp "$(dirname "$(hack/tools/helm.sh)")/bin/helm" "$pay/bin/helm"
# Without symbols and DWARF: the image is imported under emulation, where
# every MiB costs seconds (hashed, copied over gRPC, unpacked).
CGO_ENABLED=0 go build -ldflags "-s -w" -o "$out/csi-blkio" ./cmd/csi-blkio
go vet -tags e2ev2 ./test/e2ev2
CGO_ENABLED=0 go test -c -tags e2ev2 -o "$pay/bin/e2ev2.test" ./test/e2ev2
pause=$(hack/images/pause.sh --out "$pay/images/pause.tar")
busybox=$(hack/images/busybox.sh --out "$pay/images/busybox.tar")
plugin=$(hack/images/csi-blkio.sh --binary "$out/csi-blkio" --out "$pay/images/csi-blkio.tar")
provisioner=$(hack/images/csi-provisioner.sh --out "$pay/images/csi-provisioner.tar")
echo "$pause" >"$pay/pause-image"
cp -r charts/csi-blkio "$pay/chart"
cp hack/qemu/node/*.sh "$pay/"
cp hack/cluster/{containerd,kubelet}-config.sh "$pay/" # node-setup.sh sources them

# Certificates: one CA; the apiserver serves 127.0.0.1, the kubelet its node
# name. Clients use the admin token.
pki_ca "$pay/pki"
pki_serving "$pay/pki" apiserver kube-apiserver \
	"IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
pki_serving "$pay/pki" kubelet csiblkio-test-node "DNS:csiblkio-test-node,IP:10.201.0.1,IP:127.0.0.1"
pki_sa "$pay/pki"
rm -f "$pay/pki/openssl.cnf" "$pay/pki/ca.srl"
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$token,admin,admin-uid,system:masters" >"$pay/pki/tokens.csv"
cat >"$pay/admin.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: csiblkio-test
  cluster: {server: "https://127.0.0.1:6443", certificate-authority: "@PKI@/ca.crt"}
users:
- name: admin
  user: {token: "$token"}
contexts:
- name: csiblkio-test
  context: {cluster: csiblkio-test, user: admin}
current-context: csiblkio-test
KC
cat >"$pay/env" <<ENV
CSI_BLKIO_E2EV2_PLUGIN_IMAGE=$plugin
CSI_BLKIO_E2EV2_PROVISIONER_IMAGE=$provisioner
CSI_BLKIO_E2EV2_BUSYBOX_IMAGE=$busybox
CSI_BLKIO_E2EV2_RUN=$run_regex
CSI_BLKIO_E2EV2_TEST_TIMEOUT=$((vm_timeout - 120))s
ENV

# The payload disk: a filesystem made from the directory, nothing mounted.
pay_mb=$(($(du -sm "$pay" | cut -f1) * 12 / 10 + 64))
mke2fs -q -t ext4 -L csiblkio-payload -d "$pay" "$out/payload.img" "${pay_mb}M"
# The run's own copy of the root disk: the cached one is never written.
cp --sparse=always "$image_dir/disk.img" "$out/disk.img"
echo "e2e-v2: image $image_dir, payload ${pay_mb} MiB, ready in $(since "$t0") s"

# --- boots ----------------------------------------------------------------------
# boot PHASE: runs the VM until it powers off; the serial log is $out/PHASE.log.
# A boot whose emulated machine stops executing, or whose kernel locks up in
# one of stall.sh's known_guest_lockups, is run once more: it ran none of the
# node's code to a verdict. The first boot starts again from a fresh copy of
# the image; the reboot boots the same disk again, as a node would after a
# crash. Any other guest that hangs is a failure, with the kernel's
# backtraces, and so is a second stop or known lockup.
boot() {
	local phase=$1 log=$out/$1.log mon=$out/$1.monitor t rc attempt stalled=0 qemu
	local blacklist=modprobe.blacklist=floppy,pcspkr,kvm,kvm_amd,kvm_intel,ata_piix,ata_generic,pata_acpi,powernow_k8,psmouse,serio_raw,joydev
	for attempt in 1 2; do
		t=$(now)
		rm -f "$mon"
		# -nic none: the VM's only network is its own loopback. Start jobs get
		# 10 minutes instead of systemd's 90 s: on a loaded host the emulated
		# guest's clock jumps (a 30 s device timeout fired after 2 s). udev
		# would load drivers for the emulated PC's legacy devices and for the
		# virtualisation extensions -cpu max advertises, seconds of emulated
		# CPU each for nothing the node uses: blacklisted. The monitor
		# socket, SysRq and unknown_nmi_panic are for stall.sh; with
		# panic_print=0x40 that panic prints every CPU's backtrace, not
		# only the one the NMI stopped (a CPU spinning on a lock shows
		# where it waits; the other shows who holds it).
		timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
			-nodefaults -no-user-config -display none -no-reboot -nic none \
			-accel tcg -cpu max -smp 2 -m "$vm_mem" \
			-serial stdio -monitor "unix:$mon,server=on,wait=off" \
			-drive "file=$out/disk.img,format=raw,if=virtio,cache=unsafe" \
			-drive "file=$out/payload.img,format=raw,if=virtio,readonly=on" \
			-kernel "$image_dir/vmlinux" -initrd "$image_dir/initrd" \
			-append "console=ttyS0 root=/dev/vda rw panic=-1 panic_print=0x40 apparmor=0 sysrq_always_enabled unknown_nmi_panic systemd.show_status=0 systemd.default_timeout_start_sec=600 csiblkio.phase=$phase $blacklist" \
			</dev/null >"$log.raw" 2>&1 &
		qemu=$!
		set +e
		watch_console "$qemu" "$log.raw" "$mon"
		stalled=$?
		wait "$qemu"
		rc=$?
		set -e
		rm -f "$mon"
		if { [ "$stalled" -eq 4 ] || [ "$stalled" -eq 5 ]; } && [ "$attempt" -eq 1 ]; then
			mv "$log.raw" "$log.stopped.raw"
			local what="the emulated machine stopped"
			[ "$stalled" -eq 4 ] || what="the guest's kernel locked up (see above)"
			echo "e2e-v2: $phase boot: $what after $(since "$t") s (serial log $log.stopped.raw); booting it once more" >&2
			[ "$phase" != first ] || cp --sparse=always "$image_dir/disk.img" "$out/disk.img"
			continue
		fi
		break
	done
	# journald copies the payload's output to the console behind a prefix
	# ("[  47.5] vm-run.sh[189]: "); drop it, so that lines read as printed.
	tr -d '\r' <"$log.raw" | sed -E 's/^\[ *[0-9.]+\] [a-z0-9._-]+\[[0-9]+\]: //' >"$log"
	grep -a '^@@e2ev2 step \|--- FAIL\|--- PASS\|^e2ev2:' "$log" | sed "s/^/[$phase] /" || true
	echo "e2e-v2: $phase boot ran $(since "$t") s (qemu exit $rc), serial log $log"
	# The console's own timestamps (seconds since the guest booted): how long
	# the poweroff took after the result line.
	tr -d '\r' <"$log.raw" | awk '
		match($0, /^\[ *[0-9]+\.[0-9]+\]/) { ts = substr($0, RSTART + 1, RLENGTH - 2) + 0 }
		/@@e2ev2 result/ { res = ts }
		END { if (res) printf "e2e-v2: %s boot: result at %.0f s, powered off %.0f s later\n", phase, res, ts - res }
	' phase="$phase"
	if [ "$stalled" -ne 0 ]; then
		echo "e2e-v2: $phase boot stalled (see above); last lines of its console:" >&2
		tail -n 60 "$log" >&2
		return 1
	fi
	local result
	result=$(grep -a '^@@e2ev2 result exit=' "$log" | tail -1 || true)
	if [ -z "$result" ]; then
		echo "e2e-v2: $phase boot ended without a result line (qemu exit $rc; 124 = killed after ${vm_timeout} s); last lines:" >&2
		tail -n 60 "$log" >&2
		return 1
	fi
	if [ "$result" != "@@e2ev2 result exit=0" ]; then
		echo "e2e-v2: $phase boot: $result" >&2
		grep -a -B2 -A30 -- '--- FAIL' "$log" | head -n 200 >&2 || true
		return 1
	fi
	if grep -aq -- '--- SKIP' "$log"; then
		echo "e2e-v2: $phase boot skipped tests; inside the VM everything they need is there" >&2
		return 1
	fi
}
boot first
[ -n "$run_regex" ] || boot reboot
rm -f "$out/disk.img"
echo "e2e-v2: passed in $(since "$t0") s"
