#!/usr/bin/env bash
# Runs the token endpoint and bare-signature benchmarks N times, each run
# holding every benchmark once, so each ratio compares figures taken
# seconds apart; prints the median time of each and the median of the
# per-run ratios. On a noisy machine that is steadier than comparing two
# medians taken minutes apart.
#
#   scripts/bench-ratio.sh [runs]        (default 6)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-6}
out=$(mktemp)
for i in $(seq "$runs"); do
  go test -run '^$' -bench '^Benchmark(TokenEndpoint|Sign)$' -benchtime 2s ./handler/ | grep '^Benchmark' | sed "s/^/$i /" >>"$out"
done
awk '
  { run=$1; name=$2; sub(/-[0-9]+$/, "", name); ns[name, run]=$4; names[name]=1; runs[run]=1 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%-8s %14s %14s %12s %8s\n", "alg", "endpoint", "bare sign", "overhead", "ratio"
    split("RS256 ES256 EdDSA", algs, " ")
    for (k = 1; k <= 3; k++) {
      alg = algs[k]; n = 0
      for (r in runs) { n++; e[n] = ns["BenchmarkTokenEndpoint/" alg, r]; s[n] = ns["BenchmarkSign/" alg, r]; q[n] = e[n] / s[n]; d[n] = e[n] - s[n] }
      me = median(e, n); ms = median(s, n); mq = median(q, n); md = median(d, n)
      printf "%-8s %11.1f µs %11.1f µs %9.1f µs %7.2fx\n", alg, me / 1000, ms / 1000, md / 1000, mq
    }
  }' "$out"
rm -f "$out"
