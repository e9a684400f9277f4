#!/usr/bin/env bash
# Runs every fuzz target in the repository for N seconds each, one after
# another, and prints one line per target. Exits nonzero if any target
# fails, and says where go saved the failing input (testdata/fuzz/…: keep
# it, it becomes part of the seed corpus that every `go test` runs).
#
#   scripts/fuzz.sh [N]          N seconds per target (default 10)
#   FUZZ_PARALLEL=1              fuzzing workers per target (default 1)
#   FUZZ_MINIMIZE=10s            time to minimize each new input (default: N, at most 10 s;
#                                go's own default, 60 s, would eat a short run)
#   FUZZ_SHARD=K/M               run only every M-th target, starting at the K-th (1-based), so
#                                M shells can share a long run: FUZZ_SHARD=1/2 and FUZZ_SHARD=2/2
#
# go test -fuzz takes one package and one matching target at a time, hence
# the loop.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
case "$secs" in '' | *[!0-9]* | 0) echo "usage: $0 [seconds per target]" >&2; exit 2 ;; esac
workers=${FUZZ_PARALLEL:-1}
minimize=${FUZZ_MINIMIZE:-$((secs < 10 ? secs : 10))s}
shard=${FUZZ_SHARD:-1/1}
case "$shard" in [1-9]/[1-9]) ;; *) echo "FUZZ_SHARD must look like 1/2" >&2; exit 2 ;; esac
shard_k=${shard%/*} shard_m=${shard#*/}
[ "$shard_k" -le "$shard_m" ] || { echo "FUZZ_SHARD: $shard_k > $shard_m" >&2; exit 2; }

# The packages that define a fuzz target, then the targets go test lists.
mapfile -t dirs < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Z0-9_]' . | xargs -n1 dirname | sort -u)
# deadline_race: the run failed only with Go's own "context deadline
# exceeded" as -fuzztime ran out (go.dev/issue/75804, unfixed in Go 1.26):
# no input was written and the target reported nothing else. Any other
# failure, a build error included, is not this.
deadline_race() {
  ! grep -q 'Failing input written' "$1" && grep -qx '    context deadline exceeded' "$1" &&
    awk '/^--- FAIL/ { f = 1; next } f && NF && !/^    context deadline exceeded$/ && !/^(FAIL|exit status)/ { bad = 1 } END { exit bad }' "$1"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
raced=
printf '%-28s %-20s %12s %8s  %s\n' package target execs seconds result
for dir in "${dirs[@]}"; do
  pkg=${dir#./}
  for name in $(go test -list '^Fuzz' "$dir" | grep '^Fuzz'); do
    index=$((${index:-0} + 1))
    [ $(((index - 1) % shard_m + 1)) -eq "$shard_k" ] || continue
    # -timeout: go's default 10 m would cut a 10-minute run short.
    if go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" -fuzzminimizetime "$minimize" \
      -parallel "$workers" -timeout "$((secs + 300))s" "$dir" >"$log" 2>&1; then
      result=ok
    elif deadline_race "$log"; then
      result=ok*
      raced=1
    else
      result=FAIL
      failed=1
    fi
    # go's last status line; a run that ends during its baseline has none.
    execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
    # go writes the time as a Go duration: 57s, 9m57s, 1h0m3s.
    took=$(grep -oE 'elapsed: ([0-9]+h)?([0-9]+m)?[0-9]+s' "$log" | tail -1 | cut -d' ' -f2 |
      awk -F'[hms]' '/h/ { print $1 * 3600 + $2 * 60 + $3; next } /m/ { print $1 * 60 + $2; next } { print $1 }' || true)
    printf '%-28s %-20s %12s %8s  %s\n' "$pkg" "$name" "${execs:--}" "${took:--}" "$result"
    if [ "$result" = FAIL ]; then
      sed 's/^/    /' "$log"
      if saved=$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | head -1); then
        echo "    failing input saved in $dir/$saved"
      fi
    fi
  done
done
if [ -n "${raced:-}" ]; then
  echo "ok*: stopped by Go's fuzztime race (go.dev/issue/75804), not by an input: no failure was found"
fi
exit "$failed"
