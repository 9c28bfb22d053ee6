#!/usr/bin/env bash
# Prints the path of kubelet, building it (with the other Kubernetes
# binaries, see kube.sh) on first use.
set -euo pipefail
dir=$("$(dirname "${BASH_SOURCE[0]}")/kube.sh")
echo "$dir/kubelet"
