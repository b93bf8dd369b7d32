/* test_cpu_math.c — the CPU backend's fast paths against their references: the branch-free exp and tanh
 * against libm over a sweep of every float bit pattern (a stride through all 2^32). The bounds asserted
 * here are the ones cpu_math.h states. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../host/nn/cpu_math.h"

/* Distance in units in the last place between two finite floats (bit patterns mapped to an order that runs
 * on through 0). */
static double ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    int64_t oa = ia < 0 ? (int64_t)INT32_MIN - ia : ia, ob = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return (double)llabs(oa - ob);
}

/* Every STRIDE-th float bit pattern (STRIDE odd, so every exponent and sign is visited, most many times). */
#define STRIDE 257u

static float pattern(uint64_t k)
{
    uint32_t u = (uint32_t)(k * STRIDE);
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static const float extremes[] = {0.0f,      -0.0f,     INFINITY,     -INFINITY,   NAN,        FLT_MAX,     -FLT_MAX,
                                 FLT_MIN,   -FLT_MIN,  1e-45f,       -1e-45f,     88.7228317f, 88.7228394f, -87.3365479f,
                                 -87.34f,   -103.98f,  -150.0f,      1e30f,       -1e30f,     20.0f,       20.0001f,
                                 0.625f,    -0.625f,   0.62499994f,  9.0f,        -9.0f};
#define NEXTREMES (sizeof extremes / sizeof extremes[0])

// ---------------------------------------------------------------------------------------------------
// exp and tanh against libm

Test(cpu_math, expf_within_1_ulp_of_libm)
{
    double worst = 0.0;
    for (uint64_t k = 0; k < (1ull << 32) / STRIDE + NEXTREMES; k++) {
        float x = k < (1ull << 32) / STRIDE ? pattern(k) : extremes[k - (1ull << 32) / STRIDE];
        float y = rldt_cpu_expf(x), r = expf(x);
        if (isnan(r) || isnan(y)) {
            cr_assert(isnan(r) && isnan(y), "exp(%a): %a, libm %a", x, y, r);
        } else if (r < FLT_MIN) { /* flushed: an absolute error below FLT_MIN */
            cr_assert(y == 0.0f || fabsf(y - r) < FLT_MIN, "exp(%a) = %a, libm %a", x, y, r);
        } else {
            double u = ulps(y, r);
            cr_assert_leq(u, 1.0, "exp(%a) = %a, libm %a: %g ulp", x, y, r, u);
            worst = fmax(worst, u);
        }
    }
    cr_log_info("rldt_cpu_expf: worst %g ulp from expf", worst);
}

Test(cpu_math, tanhf_within_2_ulp_of_libm)
{
    for (uint64_t k = 0; k < (1ull << 32) / STRIDE + NEXTREMES; k++) {
        float x = k < (1ull << 32) / STRIDE ? pattern(k) : extremes[k - (1ull << 32) / STRIDE];
        float y = rldt_cpu_tanhf(x), r = tanhf(x);
        if (isnan(r) || isnan(y))
            cr_assert(isnan(r) && isnan(y), "tanh(%a): %a, libm %a", x, y, r);
        else
            cr_assert_leq(ulps(y, r), 2.0, "tanh(%a) = %a, libm %a", x, y, r);
    }
}
