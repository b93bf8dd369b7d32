#!/usr/bin/env bash
# ab.sh — compares two builds of bench_profile in one run: A and B take turns (A B A B ...), so that a
# machine whose load drifts slows both alike, and each pass's median over the rounds is compared as a
# ratio B / A (below 1: B is faster). On a shared machine each run first waits (up to 2 minutes) for
# 2 seconds in which the cores are at least 90% idle, and a pass counts only if its process had its
# threads' worth of CPU time (user + system >= 0.9 x threads per wall second: nobody else took a core
# while it ran); the table says how many passes counted.
# usage: bench/ab.sh A_BINARY B_BINARY [shape] [rounds] [threads]   (shape as bench_profile's; default: small,
# 5 rounds, bench_profile's default threads)
set -euo pipefail
a="$1" b="$2" shape="${3:-small}" rounds="${4:-5}" threads="${5:-}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
busy=0
# the idle share of all cores over 2 seconds, in percent
idle() {
    local a b
    read -ra a < /proc/stat
    sleep 2
    read -ra b < /proc/stat
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    echo $(((b[4] + b[5] - a[4] - a[5]) * 100 / (total > 0 ? total : 1)))
}
wait_idle() {
    local t0=$SECONDS
    while [ "$(idle)" -lt 90 ]; do
        if ((SECONDS - t0 > 120)); then busy=$((busy + 1)); return; fi
    done
}
for ((r = 0; r < rounds; r++)); do
    wait_idle
    "$a" "$shape" 1 all $threads | grep '^RESULT' | sed 's/^/A /' >>"$out/results"
    wait_idle
    "$b" "$shape" 1 all $threads | grep '^RESULT' | sed 's/^/B /' >>"$out/results"
done
echo "# $(date -u), $rounds rounds of A then B, threads ${threads:-default}; runs started on a busy machine: $busy"
echo "# A = $a, B = $b"
printf '%-8s %-12s %10s %10s %7s %8s %8s %7s %7s %7s %7s %5s\n' shape pass "A ms" "B ms" "B/A" "A GEMM" "B GEMM" \
    "A xid" "B xid" "A sys" "B sys" "n A,B"
# fields: build RESULT shape pass median_ms v gemm_share v x_ideal v sys_per_wall v cpu_per_wall v threads v peak v
awk '
function median(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    if (!n) return "nan"
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{
    key = $3 " " $4
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    if ($14 < 0.9 * $16) next
    count[$1, key]++
    ms[$1, key] = ms[$1, key] " " $6; share[$1, key] = share[$1, key] " " $8
    xid[$1, key] = xid[$1, key] " " $10; sys[$1, key] = sys[$1, key] " " $12
}
END {
    for (i = 1; i <= n; i++) {
        k = order[i]; split(k, f, " ")
        am = median(ms["A", k]); bm = median(ms["B", k])
        printf "%-8s %-12s %10.1f %10.1f %7.3f %7.1f%% %7.1f%% %7.2f %7.2f %7.2f %7.2f %2d,%-2d\n", f[1], f[2], am, bm,
               bm / am, 100 * median(share["A", k]), 100 * median(share["B", k]), median(xid["A", k]),
               median(xid["B", k]), median(sys["A", k]), median(sys["B", k]), count["A", k], count["B", k]
    }
}' "$out/results"
