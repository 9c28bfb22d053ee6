# csi-blkio — every target documents itself: `make help`.
SHELL := /bin/bash
GO ?= go
BIN := bin/csi-blkio

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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

.PHONY: lint
lint: ## gofmt and go vet.
	hack/lint.sh
