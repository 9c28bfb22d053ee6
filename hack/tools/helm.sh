#!/usr/bin/env bash
# Prints the path of a helm built from the module proxy, building it once into
# $CACHE/helm-<version>/ (~85-200 s cold on 2 cores, then instant).
#
# The printed path is a small wrapper that runs the real binary with
# HELM_CACHE_HOME, HELM_CONFIG_HOME and HELM_DATA_HOME pointing at writable
# directories under $CACHE (unless the caller set them), so helm never writes
# into $HOME's defaults and works offline for lint/template/install.
#
#   helm=$(hack/tools/helm.sh); "$helm" lint --strict charts/csi-blkio
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HELM_VERSION=v3.22.0
dir="$CACHE/helm-$HELM_VERSION"

build_helm() {
	# The same -X flags as helm's own release build: without them `helm
	# version` says "v3.22" and templates see Kubernetes v1.20 (helm v3.22 is
	# built against client-go v0.37, i.e. Kubernetes 1.37).
	local ldflags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
	ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
	ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37"
	GOBIN="$1/bin" go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
	cat >"$1/helm" <<WRAP
#!/usr/bin/env bash
# helm $HELM_VERSION with its state directories kept under the csi-blkio cache.
: "\${HELM_CACHE_HOME:=$dir/home/cache}"
: "\${HELM_CONFIG_HOME:=$dir/home/config}"
: "\${HELM_DATA_HOME:=$dir/home/data}"
export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME
mkdir -p "\$HELM_CACHE_HOME" "\$HELM_CONFIG_HOME" "\$HELM_DATA_HOME"
exec "$dir/bin/helm" "\$@"
WRAP
	chmod +x "$1/helm"
}

cached_build "helm-$HELM_VERSION" build_helm
echo "$dir/helm"
