#!/usr/bin/env bash
# The lint tier: gofmt, golangci-lint (the linters and why: .golangci.yml)
# and shellcheck over every script in the tree (.shellcheckrc). Fails on any
# finding. golangci-lint is built once into $CACHE (hack/tools); shellcheck
# comes from Debian (hack/deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh

mapfile -t gofiles < <(git ls-files '*.go')
unformatted=$(gofmt -l "${gofiles[@]}")
if [ -n "$unformatted" ]; then
	echo "gofmt wants to change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

golangci_lint=$(hack/tools/golangci-lint.sh)
"$golangci_lint" run ./...

# Every script: a .sh file, or any tracked file whose first line names a
# shell (hack/bench, .ci/run, hack/qemu/init) or that says which shell it
# is written for (sourced helpers).
scripts=()
while IFS= read -r f; do
	[ -f "$f" ] || continue
	case $f in
	*.sh) scripts+=("$f") ;;
	*)
		first=
		IFS= read -r first <"$f" || true
		case $first in
		'#!'*sh | '# shellcheck shell='*) scripts+=("$f") ;;
		esac
		;;
	esac
done < <(git ls-files)
if ! command -v shellcheck >/dev/null; then
	echo "shellcheck not found: run hack/deps.sh (it installs the Debian package shellcheck)" >&2
	exit 1
fi
shellcheck "${scripts[@]}"
echo "lint: gofmt, golangci-lint and shellcheck (${#scripts[@]} scripts) clean"
