#!/usr/bin/env bash
# Builds the Kubernetes e2e test binary and agnhost, once per version, into
# $CACHE/e2e-test-<version>/ and prints that directory:
#   e2e.test  the upstream end-to-end suites (we run the external-driver
#             storage suites from it against csi-blkio, see hack/conformance.sh)
#   agnhost   the program inside the test image the storage suites run in pods
# Both come from k8s.io/kubernetes through the wrapper module in hack/tools/e2e
# (same replace lines as hack/tools/kube, for the same reason). The e2e binary
# is large: expect 20-30 minutes cold on two busy cores, nothing warm.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KUBE_VERSION=$(module_version e2e k8s.io/kubernetes)

build_e2e() {
	local out=$1 major minor
	IFS=. read -r major minor _ <<<"${KUBE_VERSION#v}"
	local pkg=k8s.io/component-base/version
	# The suites compare their own version with the apiserver's in places;
	# stamp the release instead of v0.0.0-master.
	local ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
	cd "$TOOLS_DIR/e2e"
	go build -ldflags "$ldflags" -o "$out/agnhost" k8s.io/kubernetes/test/images/agnhost
	# -vet=off: go test -c would first vet the whole e2e tree, minutes of
	# checking code that is not ours.
	go test -c -vet=off -ldflags "$ldflags" -o "$out/e2e.test" k8s.io/kubernetes/test/e2e
}

cached_build "e2e-test-$KUBE_VERSION" build_e2e
echo "$CACHE/e2e-test-$KUBE_VERSION"
