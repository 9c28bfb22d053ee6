#!/usr/bin/env bash
# Prints the path of golangci-lint, built from the module proxy once into
# $CACHE (~3-5 min cold on 2 cores). hack/lint.sh runs it with .golangci.yml.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/go-install.sh" golangci-lint v2.15.0 \
	github.com/golangci/golangci-lint/v2/cmd/golangci-lint
