#!/usr/bin/env bash
# gpu_check.sh — the one command to run on a machine with an NVIDIA GPU (or in a short slot on one): builds
# with CUDA, runs the GPU tests (every kernel against its CPU twin on the real device, a short fine-tune, one
# rank through the NCCL engine under mpirun: its all-reduce and a fine-tune),
# the kernel benchmarks and the end-to-end step benchmark, and writes everything into one results file
# headed by the card, driver and CUDA versions. Prints where it is as it goes; about 5 minutes on an H100.
#
# usage: bench/gpu_check.sh [RESULTS_FILE]      (default: bench/gpu-results-<date>.txt)
#   GPU_CHECK_NO_BUILD=1   use the build/ that is there (built elsewhere with CUDA)
#   GPU_CHECK_QUICK=1      skip the medium-shape CPU comparison
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench/gpu-results-$(date -u +%Y%m%d-%H%M%S).txt}"
mkdir -p "$(dirname "$out")"
: >"$out"
failed=()
t_start=$(date +%s)

# step NAME CMD...: runs CMD with its output into the terminal and the results file
step() {
    local name="$1"
    shift
    echo "== [$(($(date +%s) - t_start))s] $name" | tee -a "$out"
    "$@" 2>&1 | tee -a "$out"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("$name")
}

{
    echo "# rldt GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null |
        sed 's/^/# GPU: /' || echo "# GPU: nvidia-smi not found"
    command -v nvcc >/dev/null && nvcc --version | grep -m1 release | sed 's/^/# nvcc: /'
    echo "# host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
} | tee -a "$out"

if [ "${GPU_CHECK_NO_BUILD:-0}" != 1 ]; then
    step "build (CUDA plugin for sm_80/sm_90, benchmarks, tests)" \
        make -j"$(nproc)" CUDA=1 all build/tests/rldt_tests build/tests/comm_check build/bench/bench_kernels build/bench/bench_step
fi
step "device" ./build/rldt info
if [ "${GPU_CHECK_NO_BUILD:-0}" != 1 ]; then
    step "GPU tests (make test-gpu)" make test-gpu
else # a build made elsewhere: run the test binary as make test-gpu does, without make's rebuild checks
    step "GPU tests" env -C tests RLDT_TEST_DEVICE=cuda RLDT_BIN="$PWD/build/rldt" RLDT_CUDA_LIB="$PWD/build/librldt_cuda.so" \
        RLDT_COMM_CHECK="$PWD/build/tests/comm_check" ../build/tests/rldt_tests --jobs=4 --filter '@(parity|device)/*'
fi
step "kernel benchmarks" ./build/bench/bench_kernels cuda
step "end-to-end: hopper shape on the GPU" ./build/bench/bench_step hopper cuda
step "end-to-end: hopper shape, tf32 GEMMs" env RLDT_PRECISION=tf32 ./build/bench/bench_step hopper cuda
step "end-to-end: hopper shape, bf16 GEMMs" env RLDT_PRECISION=bf16 ./build/bench/bench_step hopper cuda
step "end-to-end: medium shape on the GPU" ./build/bench/bench_step medium cuda
if [ "${GPU_CHECK_QUICK:-0}" != 1 ]; then
    step "end-to-end: medium shape on the CPU (for the ratio)" ./build/bench/bench_step medium cpu
fi
echo "== [$(($(date +%s) - t_start))s] done; results in $out" | tee -a "$out"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}" | tee -a "$out"
    exit 1
fi
