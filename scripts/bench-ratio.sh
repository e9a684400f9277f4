#!/usr/bin/env bash
# Runs a hot path's benchmarks beside their baseline N times, each run
# holding every benchmark once, so each ratio compares figures taken
# seconds apart; prints medians and the median of the per-run ratios. On a
# noisy machine that is steadier than comparing two medians taken minutes
# apart.
#
#   scripts/bench-ratio.sh handler [runs]      token endpoint vs bare signature
#   scripts/bench-ratio.sh metrics [runs]      token endpoint with Config.Metrics vs without
#   scripts/bench-ratio.sh middleware [runs]   protected request vs bare handler / bare verification
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-handler}
runs=${2:-6}
case "$what" in
  handler)    pkg=./handler/    pattern='^Benchmark(TokenEndpoint|Sign)$' ;;
  metrics)    pkg=./handler/    pattern='^BenchmarkTokenEndpoint(Metrics)?$' ;;
  middleware) pkg=./middleware/ pattern='^Benchmark(BareHandler|Protected|ProtectedRevocations|VerifySignature)$' ;;
  *) echo "usage: $0 handler|metrics|middleware [runs]" >&2; exit 2 ;;
esac
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$runs"); do
  go test -run '^$' -bench "$pattern" -benchtime 1s "$pkg" | grep '^Benchmark' | sed "s/^/$i /" >>"$out"
done
awk -v what="$what" '
  { run=$1; name=$2; sub(/-[0-9]+$/, "", name); ns[name, run]=$4; runs[run]=1 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  # row prints medians of x and base, of x-base and of x/base over runs.
  function row(label, x, base,   r, n, e, s, q, d) {
    n = 0
    for (r in runs) { n++; e[n] = ns[x, r]; s[n] = ns[base, r]; q[n] = e[n] / s[n]; d[n] = e[n] - s[n] }
    printf "%-22s %12.2f µs %12.2f µs %10.2f µs %7.2fx\n", label, median(e, n) / 1000, median(s, n) / 1000, median(d, n) / 1000, median(q, n)
  }
  END {
    split("RS256 ES256 EdDSA", algs, " ")
    if (what == "handler") {
      printf "%-22s %15s %15s %13s %8s\n", "alg", "endpoint", "bare sign", "overhead", "ratio"
      for (k = 1; k <= 3; k++) row(algs[k], "BenchmarkTokenEndpoint/" algs[k], "BenchmarkSign/" algs[k])
    } else if (what == "metrics") {
      printf "%-22s %15s %15s %13s %8s\n", "alg", "metrics on", "metrics off", "added", "ratio"
      for (k = 1; k <= 3; k++) row(algs[k], "BenchmarkTokenEndpointMetrics/" algs[k], "BenchmarkTokenEndpoint/" algs[k])
    } else {
      printf "%-22s %15s %15s %13s %8s\n", "case", "protected", "baseline", "overhead", "ratio"
      for (k = 1; k <= 3; k++) row(algs[k] " repeated", "BenchmarkProtected/" algs[k] "/repeated", "BenchmarkBareHandler")
      row("ES256 repeated+revoc.", "BenchmarkProtectedRevocations/ES256/repeated", "BenchmarkBareHandler")
      for (k = 1; k <= 3; k++) row(algs[k] " first-seen", "BenchmarkProtected/" algs[k] "/first-seen", "BenchmarkVerifySignature/" algs[k])
    }
  }' "$out"
