#!/usr/bin/env bash
# Builds each example as a user who copies it gets it: alone in a module of
# its own (example.com/x), depending on this repository through a replace
# directive. Go refuses an import of internal/ from outside the module, so
# an example (or its tests: go vet compiles them) that uses an internal
# package fails here with "use of internal package … not allowed".
#
#   scripts/examples-standalone.sh [EXAMPLE…]   default: every directory in examples/
#
# The copy starts from this repository's go.mod and go.sum (renamed, with
# the require and replace of the repository added), so go mod tidy keeps
# the versions tested here instead of looking each import up at @latest: a
# new release of a dependency cannot fail this check, and when the module
# cache holds this repository's dependencies (after any go build here) no
# network is needed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if [ $# -eq 0 ]; then
  set -- $(cd examples && ls -d */ | tr -d /)
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# A workspace named by GOWORK must not take the copy back in.
export GOWORK=off GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"

fail=0
for ex in "$@"; do
  [ -d "examples/$ex" ] || { echo "no such example: $ex" >&2; exit 2; }
  dir=$scratch/$ex
  mkdir -p "$dir"
  cp -R "examples/$ex/." "$dir/"
  cp go.mod go.sum "$dir/"
  start=$(date +%s%N)
  if ! (
    cd "$dir"
    go mod edit -module example.com/x \
      -require github.com/tollgate-oauth/tollgate@v0.0.0-00010101000000-000000000000 \
      -replace "github.com/tollgate-oauth/tollgate=$repo"
    go mod tidy
    go build ./...
    go vet ./...
  ) >"$scratch/$ex.log" 2>&1; then
    echo "FAIL  examples/$ex does not build as a module of its own:"
    sed 's/^/      /' "$scratch/$ex.log"
    fail=1
    continue
  fi
  ms=$((($(date +%s%N) - start) / 1000000))
  printf 'ok    examples/%s (%d.%01ds)\n' "$ex" $((ms / 1000)) $((ms % 1000 / 100))
done
exit $fail
