#!/usr/bin/env bash
# Builds the Kubernetes binaries the cluster tiers need, once per version, into
# $CACHE/kube-<version>/, and prints that directory:
#   kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the staging
# modules with local paths); hack/tools/kube/ is a wrapper module that requires
# it and replaces every k8s.io/* staging module with its published v0.<minor>
# tag. All five come from one `go build` so the shared packages compile once.
# Callers take a binary from that directory: "$(hack/tools/kube.sh)/kubectl".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KUBE_VERSION=$(module_version kube k8s.io/kubernetes)
KUBE_BINARIES=(kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet)

build_kube() {
	local out=$1 major minor
	IFS=. read -r major minor _ <<<"${KUBE_VERSION#v}"
	local pkg=k8s.io/component-base/version
	# gitVersion makes version checks (kubectl version skew, kubelet
	# registration) see a real release instead of v0.0.0-master.
	local ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
	local pkgs=()
	for b in "${KUBE_BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
	(cd "$TOOLS_DIR/kube" && go build -ldflags "$ldflags" -o "$out/" "${pkgs[@]}")
}

cached_build "kube-$KUBE_VERSION" build_kube
echo "$CACHE/kube-$KUBE_VERSION"
