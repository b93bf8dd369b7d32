/* parity.h — helpers shared by the parity tests (tests/test_parity_*.c): every op of the device backend
 * under test against its CPU twin on random inputs, relative error bounded, every output element written
 * (device outputs start as NaN).
 *
 * The device backend under test: $RLDT_TEST_DEVICE ("cuda" or "cuda-emu") when set, else CUDA when a device
 * is usable, else the kernel emulator (cuda-emu); a test skips cleanly when neither is there. On cuda-emu,
 * PARITY_ORDERS runs a block once per thread order of the emulator (forward, reverse, seeded random): a kernel
 * that is missing a barrier gives order-dependent results and fails there. */
#ifndef RLDT_TEST_PARITY_H
#define RLDT_TEST_PARITY_H

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* setenv; include this header first */
#endif
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "rldt/backend.h"

static inline const rldt_backend_t *parity_backend(void)
{
    const char *want = getenv("RLDT_TEST_DEVICE");
    char why[256] = "", why_emu[256] = "";
    const rldt_backend_t *be = NULL;
    if (!want || strcmp(want, "cuda") == 0) be = rldt_backend_cuda(why, sizeof why);
    if (!be && (!want || strcmp(want, "cuda-emu") == 0)) be = rldt_backend_cuda_emu(why_emu, sizeof why_emu);
    if (!be) cr_skip_test("skipped: no device backend (cuda: %s; cuda-emu: %s)", why, why_emu);
    return be;
}

/* Runs the statement once per emulator thread order (once on a real GPU). */
#define PARITY_ORDERS(be, stmt)                                                                            \
    do {                                                                                                   \
        static const char *const orders_[] = {"forward", "reverse", "random:12345"};                      \
        int n_ = strcmp((be)->name, "cuda-emu") == 0 ? 3 : 1;                                             \
        for (int o_ = 0; o_ < n_; o_++) {                                                                  \
            setenv("RLDT_EMU_ORDER", orders_[o_], 1);                                                      \
            stmt;                                                                                          \
        }                                                                                                  \
        unsetenv("RLDT_EMU_ORDER");                                                                        \
    } while (0)

/* A device copy of n host floats. */
static inline float *to_dev(const rldt_backend_t *be, const float *h, size_t n)
{
    float *d = be->alloc(sizeof(float) * (n ? n : 1));
    cr_assert_not_null(d);
    if (n) be->upload(d, h, sizeof(float) * n);
    return d;
}

/* A device buffer of n NaNs (the "not written" sentinel). */
static inline float *nan_dev(const rldt_backend_t *be, size_t n)
{
    float *h = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) h[i] = NAN;
    float *d = to_dev(be, h, n);
    free(h);
    return d;
}

/* Downloads n floats and checks them against the CPU result: all finite, max relative error <= tol
 * (relative to max(|a|, |b|, 1e-3)). */
static inline void expect_close(const rldt_backend_t *be, const float *dev, const float *ref, size_t n, double tol,
                                const char *what)
{
    float *h = malloc(sizeof(float) * (n ? n : 1));
    be->download(h, dev, sizeof(float) * n);
    for (size_t i = 0; i < n; i++) cr_assert(isfinite(h[i]), "%s: element %zu not written (%g)", what, i, h[i]);
    double e = test_max_rel_err(h, ref, n, 1e-3);
    cr_assert_leq(e, tol, "%s: max relative error %g > %g", what, e, tol);
    free(h);
}

/* expect_close with a chosen floor on the denominator of the relative error (an absolute scale for values
 * near 0, where one rounding of an O(1) product is a large relative error). */
static inline void expect_close_floor(const rldt_backend_t *be, const float *dev, const float *ref, size_t n, double tol,
                                      double floor, const char *what)
{
    float *h = malloc(sizeof(float) * (n ? n : 1));
    be->download(h, dev, sizeof(float) * n);
    for (size_t i = 0; i < n; i++) cr_assert(isfinite(h[i]), "%s: element %zu not written (%g)", what, i, h[i]);
    for (size_t i = 0; i < n; i++) {
        double e = test_rel_err(h[i], ref[i], floor);
        cr_assert_leq(e, tol, "%s: element %zu: %.9g vs %.9g (relative error %g > %g)", what, i, h[i], ref[i], e, tol);
    }
    free(h);
}

/* ‖(b − a0) − (a − a0)‖ / ‖a − a0‖: how differently two runs moved the same tensor away from a0. */
static inline double parity_update_mismatch(const float *a, const float *b, const float *a0, size_t n)
{
    double diff = 0, moved = 0;
    for (size_t i = 0; i < n; i++) {
        diff += ((double)b[i] - a[i]) * ((double)b[i] - a[i]);
        moved += ((double)a[i] - a0[i]) * ((double)a[i] - a0[i]);
    }
    cr_assert_gt(moved, 0.0, "the CPU run did not move the tensor: the comparison would be vacuous");
    return sqrt(diff / moved);
}

#endif
