/* test_backend.c — backend selection: CPU always works and is complete; auto falls back to CPU with a
 * reason when CUDA is unusable; a bad name is a usage error; the advice on OpenBLAS kernels older than the CPU. */
#include <criterion/criterion.h>
#include <string.h>

#include "rldt/backend.h"

Test(backend, cpu_is_complete)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    cr_assert_str_eq(cpu->name, "cpu");
    cr_assert_eq(cpu->abi, RLDT_BACKEND_ABI);
    cr_assert_null(rldt_backend_missing_op(cpu));
}

Test(backend, missing_op_is_named)
{
    rldt_backend_t partial = *rldt_backend_cpu();
    partial.layernorm_backward = NULL;
    cr_assert_str_eq(rldt_backend_missing_op(&partial), "layernorm_backward");
}

Test(backend, selection)
{
    char note[512];
    cr_assert_eq(rldt_backend_select("cpu", note, sizeof note), rldt_backend_cpu());
    cr_assert_null(rldt_backend_select("tpu", note, sizeof note));
    cr_assert(strstr(rldt_error_message(), "tpu"));
    char why[256];
    const rldt_backend_t *cu = rldt_backend_cuda(why, sizeof why);
    const rldt_backend_t *aut = rldt_backend_select("auto", note, sizeof note);
    cr_assert_not_null(aut);
    if (!cu) {
        cr_assert_eq(aut, rldt_backend_cpu());
        cr_assert(strstr(note, "using CPU"), "note: %s", note);
        cr_assert(strlen(why) > 0);
        cr_assert_null(rldt_backend_select("cuda", note, sizeof note));
        cr_assert(strstr(rldt_error_message(), "unavailable"));
    }
}

Test(backend, blas_advice_names_the_kernels_the_cpu_can_run)
{
    cr_assert_str_eq(rldt_cpu_blas_advice("Prescott", true, true), "SkylakeX");
    cr_assert_str_eq(rldt_cpu_blas_advice("prescott", true, false), "Haswell");
    cr_assert_str_eq(rldt_cpu_blas_advice("Sandybridge", true, false), "Haswell");
    cr_assert_null(rldt_cpu_blas_advice("Prescott", false, false), "an SSE-only CPU has nothing better");
    cr_assert_null(rldt_cpu_blas_advice("SkylakeX", true, true));
    cr_assert_null(rldt_cpu_blas_advice("Haswell", true, true), "OpenBLAS picks Haswell on some AVX-512 CPUs on purpose");
    cr_assert_null(rldt_cpu_blas_advice("Zen", true, false));
    cr_assert_null(rldt_cpu_blas_advice(NULL, true, true));
}
