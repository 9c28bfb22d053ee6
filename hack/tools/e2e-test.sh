#!/usr/bin/env bash
# Builds the Kubernetes storage e2e test binary and agnhost, once per version
# and suite source, into $CACHE/e2e-test-<version>-<hash>/ and prints that
# directory:
#   e2e.test  the e2e framework and the storage SIG's external-driver suites
#             (hack/tools/e2e/storagesuite: we run them against csi-blkio,
#             see hack/conformance.sh)
#   agnhost   the program inside the test image the storage suites run in pods
#   version   the Kubernetes version both come from
# Both come from k8s.io/kubernetes through the wrapper module in hack/tools/e2e
# (same replace lines as hack/tools/kube, for the same reason). e2e.test is
# not upstream's whole test/e2e: that compiles every SIG's suites, several
# times the work (see docs/conformance.md for the measured cold builds).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KUBE_VERSION=$(module_version e2e k8s.io/kubernetes)
# The suite's main and the module's requirements decide what is compiled.
SOURCE_HASH=$(cat "$TOOLS_DIR"/e2e/go.mod "$TOOLS_DIR"/e2e/go.sum "$TOOLS_DIR"/e2e/storagesuite/*.go |
	sha256sum | cut -c1-12)

build_e2e() {
	local out=$1 major minor
	IFS=. read -r major minor _ <<<"${KUBE_VERSION#v}"
	local pkg=k8s.io/component-base/version
	# The suites compare their own version with the apiserver's in places;
	# stamp the release instead of v0.0.0-master.
	local ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
	cd "$TOOLS_DIR/e2e"
	go build -ldflags "$ldflags" -o "$out/agnhost" k8s.io/kubernetes/test/images/agnhost
	# -vet=off: go test -c would first vet the framework and the suites,
	# minutes of checking code that is not ours.
	go test -c -vet=off -ldflags "$ldflags" -o "$out/e2e.test" ./storagesuite
	echo "$KUBE_VERSION" >"$out/version"
}

cached_build "e2e-test-$KUBE_VERSION-$SOURCE_HASH" build_e2e
echo "$CACHE/e2e-test-$KUBE_VERSION-$SOURCE_HASH"
