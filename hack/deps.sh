#!/usr/bin/env bash
# Installs the Debian packages every test tier needs (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh
if [ "$(id -u)" -ne 0 ]; then
	echo "not root: skipping package installation (kernel tiers will skip too)"
	exit 0
fi
apt_install e2fsprogs xfsprogs util-linux gcc libc6-dev strace shellcheck
