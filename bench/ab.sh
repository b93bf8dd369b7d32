#!/usr/bin/env bash
# ab.sh — compares two builds of bench_profile in one run: A and B take turns (A B A B ...), so that a
# machine whose load drifts slows both alike, and each pass's median over the rounds is compared as a
# ratio B / A (below 1: B is faster).
# usage: bench/ab.sh A_BINARY B_BINARY [shape] [rounds]   (shape as bench_profile's; default: small, 5 rounds)
set -euo pipefail
a="$1" b="$2" shape="${3:-small}" rounds="${4:-5}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((r = 0; r < rounds; r++)); do
    "$a" "$shape" 1 | grep '^RESULT' | sed 's/^/A /' >>"$out/results"
    "$b" "$shape" 1 | grep '^RESULT' | sed 's/^/B /' >>"$out/results"
done
echo "# $(date -u), $rounds rounds of A then B; A = $a, B = $b"
printf '%-8s %-12s %10s %10s %8s %9s %9s %8s %8s\n' shape pass "A ms" "B ms" "B/A" "A GEMM%" "B GEMM%" "A sys" "B sys"
# fields: build RESULT shape pass median_ms X gemm_share X x_ideal X sys_per_wall X
awk '
function median(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{
    key = $3 " " $4
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    ms[$1, key] = ms[$1, key] " " $6; share[$1, key] = share[$1, key] " " $8; sys[$1, key] = sys[$1, key] " " $12
}
END {
    for (i = 1; i <= n; i++) {
        k = order[i]; split(k, f, " ")
        am = median(ms["A", k]); bm = median(ms["B", k])
        printf "%-8s %-12s %10.1f %10.1f %8.3f %8.1f%% %8.1f%% %8.2f %8.2f\n", f[1], f[2], am, bm, bm / am,
               100 * median(share["A", k]), 100 * median(share["B", k]), median(sys["A", k]), median(sys["B", k])
    }
}' "$out/results"
