#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, then runs
# every tier. Tiers: lint; unit + kernel + csi-sanity (go test -race as root);
# the Helm chart (lint, rendered templates, install into a real apiserver);
# the Kubernetes integration tier (csi-blkio against a real apiserver);
# bounded fuzzing; cgroup v2 on a real kernel in qemu (hack/qemu/run.sh);
# a seconds-long smoke run of the benchmarks (hack/bench --smoke);
# end to end on a real node (hack/e2e.sh); the storage SIG's external-driver
# suites against the chart on that node (hack/conformance.sh); a cgroup v2 +
# systemd-driver node in a qemu VM (hack/e2e-v2.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh

step "dependencies" hack/deps.sh
# The VM tier's disk image is built once per machine, mostly by downloading
# and unpacking Debian packages: on a cold machine it is built in the
# background, beside the CPU-bound tiers, and the VM tier waits for it (the
# image script holds a lock). Warm, this finds the cached image at once.
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p _output
	hack/qemu/node-image.sh >_output/node-image.log 2>&1 </dev/null &
fi
step "lint" hack/lint.sh
# go test alone does not say which tests skipped; test-summary prints its
# usual lines, then the count and every skip with its reason.
go_test_listing_skips() { go test -json "$@" | go run ./hack/tools/test-summary; }
# test/e2e and test/kube need a node and an apiserver, which their own tiers
# below bring up; here they would only be built with -race and skip every
# test (lint has type-checked them already).
all_packages=$(go list ./...) # a failure stops the run here, not an empty list
mapfile -t unit_packages < <(grep -v -e '/test/e2e$' -e '/test/kube$' <<<"$all_packages")
step "unit, kernel and csi-sanity tests" go_test_listing_skips -race -count=1 "${unit_packages[@]}"
step "helm chart" hack/test-chart.sh
step "kubernetes integration (real apiserver)" hack/test-kube.sh
# Fuzz budgets are execution counts (~15-20 s here), not durations: a duration
# races Go 1.26's fuzz coordinator at the deadline (go.dev/issue/75804) and
# fails with "context deadline exceeded" and no failing input.
step "fuzz: volume parameters (bounded)" go test -run='^$' -fuzz=FuzzParse -fuzztime=400000x ./internal/params
step "fuzz: volume IDs (bounded)" go test -run='^$' -fuzz='^FuzzCheckID$' -fuzztime=80000x ./internal/driver
step "fuzz: request paths (bounded)" go test -run='^$' -fuzz='^FuzzCheckPath$' -fuzztime=100000x ./internal/driver
step "cgroup v2 kernel (qemu)" hack/qemu/run.sh
step "benchmarks still run (hack/bench --smoke)" hack/bench --smoke
step "end to end on a real node (helm install, real pods)" hack/e2e.sh
step "kubernetes storage conformance (e2e.test external-driver suites)" hack/conformance.sh
step "end to end on a cgroup v2 + systemd node (qemu VM, helm install, a reboot)" hack/e2e-v2.sh
summary
