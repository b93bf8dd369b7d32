#!/usr/bin/env bash
# blas_cores.sh — the same bench_profile passes on OpenBLAS's Prescott (SSE3), Haswell (AVX2) and SkylakeX
# (AVX-512) kernels, in interleaved rounds, one thread: how much a machine whose OpenBLAS falls back to
# Prescott (a CPU model it does not know) gains from OPENBLAS_CORETYPE. Needs a CPU with AVX-512.
# Usage: bench/blas_cores.sh [rounds] (default 3); prints the RESULT lines of each run, prefixed with
# "round core shape:". Run from the repository root after `make build/bench/bench_profile`.
set -euo pipefail
rounds=${1:-3}
bin=build/bench/bench_profile
[ -x "$bin" ] || { echo "blas_cores.sh: $bin not found; build it with 'make $bin'" >&2; exit 2; }
grep -q avx512f /proc/cpuinfo || { echo "blas_cores.sh: this CPU has no AVX-512" >&2; exit 2; }
date -u
for round in $(seq "$rounds"); do
    for core in Prescott Haswell SkylakeX; do
        for shape in small medium; do
            OPENBLAS_CORETYPE=$core "$bin" "$shape" 3 all 1 2>&1 | grep -E "^RESULT|GEMM peak" | sed "s/^/$round $core $shape: /"
        done
    done
done
date -u
