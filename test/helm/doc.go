// Package helm tests the csi-blkio chart through the helm binary the project
// builds (hack/tools/helm.sh): lint, the objects `helm template` renders,
// the values schema, and install/upgrade/uninstall against a real apiserver.
//
// The tests carry the build tag `chart`, so that `go test ./...` does not
// build helm; hack/test-chart.sh runs them as their own tier of `make test`:
//
//	hack/test-chart.sh
//	go test -tags chart ./test/helm/   # builds helm on first use
package helm
