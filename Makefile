# csi-blkio — every target documents itself: `make help`.
SHELL := /bin/bash
GO ?= go
BIN := bin/csi-blkio

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/csi-blkio.
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/csi-blkio

.PHONY: demo
demo: ## Build, then show csi-blkio throttling on this machine (root; no cluster). DEMO_ARGS="--mode read" etc.
	hack/deps.sh
	$(MAKE) --no-print-directory build
	$(BIN) demo $(DEMO_ARGS)

.PHONY: test
test: ## Install what the tests need (first run) and run every test tier (root).
	hack/test.sh

.PHONY: unit
unit: ## Run only the unit tests (no root needed).
	$(GO) test -race -short ./...

.PHONY: chart
chart: ## Run the Helm chart tier: lint, rendered templates, install into a real apiserver.
	hack/test-chart.sh

.PHONY: kube
kube: ## Run the Kubernetes integration tier against a real apiserver (root).
	hack/test-kube.sh

.PHONY: e2e
e2e: ## End to end on a real cgroup v1 kubelet + containerd node with the chart installed (root). ARGS="-run TestX".
	hack/e2e.sh $(ARGS)

.PHONY: qemu
qemu: ## Run the cgroup v2 tests in a qemu VM (RUN=regex to pick tests).
	hack/qemu/run.sh $(if $(RUN),-run '$(RUN)')

.PHONY: e2e-v2
e2e-v2: ## End to end on a cgroup v2 + systemd node in a qemu VM (root; 6-21 min by host load, a tier of make test). RUN=regex: first boot only.
	hack/e2e-v2.sh $(if $(RUN),-run '$(RUN)')

.PHONY: lint
lint: ## gofmt, golangci-lint (.golangci.yml) and shellcheck over every script.
	hack/lint.sh

.PHONY: generate
generate: ## Regenerate the ThrottleGroup deepcopy code and CRD (controller-gen) and the chart README (helm-docs).
	hack/generate.sh

# The image tag follows the chart's appVersion, so that `make image` and the
# chart's default image agree.
IMAGE ?= csi-blkio/csi-blkio:$(shell awk -F'"' '/^appVersion:/ {print $$2}' charts/csi-blkio/Chart.yaml)

.PHONY: image
image: ## Build the plugin image csi-blkio/csi-blkio:<chart appVersion> (IMAGE=...) with docker; untested here.
	docker build -t $(IMAGE) .

.PHONY: bench
bench: ## Run the benchmarks beside their baselines, in rounds (root, ~30 min); writes docs/benchmarks.md and compares its verdicts with the old one.
	hack/bench

.PHONY: conformance
conformance: ## Run the Kubernetes storage suites (e2e.test, external driver) against csi-blkio on a real node (root); writes docs/conformance.md.
	hack/conformance.sh
