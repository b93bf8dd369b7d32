#!/usr/bin/env bash
# run.sh — runs every benchmark binary built into BUILD_DIR/bench/ (make bench builds them).
# usage: bench/run.sh [BUILD_DIR]   (default: build)
set -euo pipefail
build="${1:-build}"
shopt -s nullglob
bins=("$build"/bench/*)
if [ ${#bins[@]} -eq 0 ]; then
    echo "run.sh: no benchmarks in $build/bench/ (run 'make bench')" >&2
    exit 1
fi
echo "# $(date) on $(uname -m), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
for b in "${bins[@]}"; do
    [ -x "$b" ] || continue
    echo "## $(basename "$b")"
    "$b"
done
