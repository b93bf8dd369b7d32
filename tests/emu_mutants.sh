#!/usr/bin/env bash
# emu_mutants.sh [BUILD] — shows that the emulated kernel tests catch real kernel bugs: each mutant below is
# a deliberately broken copy of one kernel (one sed edit of a copy of kernels/), built into the cuda-emu
# plugin, and the tests named in its row must FAIL against it. Prints "mutant <name>: killed" per mutant and
# exits non-zero if any mutant survives, if an edit no longer applies (the kernel changed: update its row),
# or if the unmutated kernels fail the same tests. Run by `make test-mutants` (SANITIZE=1 works too).
#
# BUILD is the build folder holding rldt_tests and the test plugin (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SANITIZE=${SANITIZE:-0}

# The mutants: one row each, add yours. Columns: name, file under kernels/, the Criterion --filter of the
# tests that must fail, and the sed script (GNU sed, applied with -e) that breaks the kernel.
MUTANTS=()
mutant() { MUTANTS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"); }
#      name                        file        tests that must fail                              sed script
mutant block-sum-missing-barrier   reduce.cuh  'parity/@(sumsq|mse)'                             '/sh\[k \* T + t\] += sh\[k \* T + t + w\];/{n;/__syncthreads();/d}'
mutant lerp-tail-off-by-one      optim.cu    '@(parity/lerp_scale|emu/ops_match_cpu*)'        '/void lerp_kernel/,/^}/s/GRID_STRIDE(i, n)/GRID_STRIDE(i, n - 1)/'
mutant scale-stride-skips-blocks optim.cu    '@(parity/lerp_scale|emu/ops_match_cpu*)'        '/void scale_kernel/,/^}/s/GRID_STRIDE(i, n)/for (size_t i = blockIdx.x * 2 * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)/'
mutant sumsq-stride-without-grid reduce.cu   '@(parity/sumsq|emu/ops_match_cpu*)'             '/void sum_kernel/,/^}/s/GRID_STRIDE(i, n4) {/for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4; i += blockDim.x) {/'
mutant td-lambda-segment-stride    transport.cu 'parity/td_lambda'                              '/void td_lambda_kernel/,/^}/s/qnext + (size_t)s \* T/qnext/'
mutant im2col-channel-halved       conv.cu     'parity/@(im2col_col2im|conv2d_layer|encoder)'    '/void im2col_kernel/,/^}/s|in\[src + c\]|in[src + c / 2]|'
mutant col2im-rows-for-columns     conv.cu     'parity/@(im2col_col2im|conv2d_layer|encoder)'    '/void col2im_kernel/,/^}/s|(int)yx / g.W, (int)yx % g.W|(int)yx % g.W, (int)yx / g.W|'
mutant shift-offsets-per-pixel     conv.cu     'parity/@(image_shift|encoder)'                   '/void image_shift_kernel/,/^}/s/counter, (int)b, pad/counter, (int)px, pad/'
mutant svgd-missing-barrier      transport.cu 'parity/svgd_field'                              '/if (before == rank) hq\[k\.r\] = rldt_svgd_bandwidth_of(v, den);/{n;n;n;/__syncthreads();/d}'
mutant svgd-stage-row-stride     transport.cu 'parity/svgd_field'                              's/at\[u\] = r \* ld + c;/at[u] = r * D + c;/'
mutant act-vector-tail-dropped   nn.cu       'parity/activations'                              's/GRID_STRIDE(i, n - 4 \* n4) out\[4 \* n4 + i\]/GRID_STRIDE(i, n - 4 * n4 - (n > 4)) out[4 * n4 + i]/'
mutant layernorm-warp-sum-half   nn.cu       'parity/layernorm'                                's/for (int o = 16; o > 0; o >>= 1)/for (int o = 8; o > 0; o >>= 1)/'

TESTS=$BUILD/tests/rldt_tests
TEST_LIB=$PWD/$BUILD/tests/librldt_emu_test.so
for f in "$TESTS" "$TEST_LIB" "$BUILD/librldt_cuda_emu.so"; do
    [ -e "$f" ] || { echo "emu_mutants: $f is missing (run make all $TESTS $BUILD/tests/librldt_emu_test.so)" >&2; exit 2; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rldt_mutants.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# Runs the tests matching $2 against the emulator plugin $1; their output goes to $TMP/log.
run_tests() {
    (cd tests && RLDT_TEST_DEVICE=cuda-emu RLDT_CUDA_EMU_LIB="$1" RLDT_EMU_TEST_LIB="$TEST_LIB" \
        RLDT_BIN="$PWD/../$BUILD/rldt" LSAN_OPTIONS=suppressions="$PWD/lsan.supp" \
        "../$TESTS" --jobs="${TEST_JOBS:-2}" --timeout 300 --fail-fast --filter "$2") >"$TMP/log" 2>&1
}

echo "emu_mutants: the unmutated kernels must pass the tests first"
filters=()
for row in "${MUTANTS[@]}"; do IFS=$'\t' read -r _ _ filter _ <<<"$row"; filters+=("$filter"); done
union="@($(IFS='|'; echo "${filters[*]}"))"
if ! run_tests "$PWD/$BUILD/librldt_cuda_emu.so" "$union"; then
    tail -n 30 "$TMP/log"
    echo "emu_mutants: the unmutated kernels fail the tests; nothing to compare against" >&2
    exit 1
fi

survivors=0
for row in "${MUTANTS[@]}"; do
    IFS=$'\t' read -r name file filter script <<<"$row"
    rm -rf "$TMP/kernels" "$TMP/build"
    cp -r kernels "$TMP/kernels"
    sed -i -e "$script" "$TMP/kernels/$file"
    if cmp -s "kernels/$file" "$TMP/kernels/$file"; then
        echo "mutant $name: the edit no longer applies to kernels/$file (update its row in $0)" >&2
        survivors=$((survivors + 1))
        continue
    fi
    if ! make -s -j"${MAKE_JOBS:-2}" SANITIZE="$SANITIZE" BUILD="$TMP/build" EMU_KDIR="$TMP/kernels" \
        "$TMP/build/librldt_cuda_emu.so" >"$TMP/build.log" 2>&1; then
        cat "$TMP/build.log" >&2
        echo "mutant $name: does not build (a mutant must compile to count)" >&2
        survivors=$((survivors + 1))
        continue
    fi
    if run_tests "$TMP/build/librldt_cuda_emu.so" "$filter"; then
        if grep -q "Tested: 0 " "$TMP/log"; then
            echo "mutant $name: SURVIVED (no test matches '$filter')"
        else
            echo "mutant $name: SURVIVED ($filter passed against it)"
        fi
        diff -u "kernels/$file" "$TMP/kernels/$file" || true
        survivors=$((survivors + 1))
    else
        test=$(grep -m1 -E '^\[(FAIL|CRASH)' "$TMP/log" | sed -E 's/^\[[A-Z]+\] //; s/: .*//' || true)
        why=$(grep -m1 -E '^\[----\]   [^ ]' "$TMP/log" | sed 's/^\[----\]   //' | cut -c1-120 || true)
        echo "mutant $name: killed by ${test:-the tests}${why:+ ($why)}"
    fi
done
if [ "$survivors" -ne 0 ]; then
    echo "emu_mutants: $survivors of ${#MUTANTS[@]} mutants survived or could not be tested" >&2
    exit 1
fi
echo "emu_mutants: all ${#MUTANTS[@]} mutants killed"
