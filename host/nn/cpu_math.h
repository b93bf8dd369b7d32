/* cpu_math.h — per-element math of the CPU backend written for the vectoriser: branch-free (selects, no
 * calls), so that a loop over an array compiles to SIMD code, and an exp that the loop can inline.
 *
 * The activations here are the CPU twins of rldt_act_f / rldt_act_df (rldt/nn.h, shared with the GPU):
 * the same formulas with rldt_cpu_expf and rldt_cpu_tanhf in place of libm's expf and tanhf. Bounds
 * (tests/test_cpu_math.c asserts them; glibc 2.36's libm as the reference):
 *   rldt_cpu_expf   within 1 ulp of expf wherever expf(x) >= FLT_MIN (x >= -87.34), checked over all 2^32
 *                   floats (the test sweeps every 257th); 0 below, an absolute error < FLT_MIN; +inf above
 *                   88.7228 as expf; NaN in, NaN out;
 *   rldt_cpu_tanhf  within 2 ulp of tanhf (all 2^32 floats checked the same way);
 *   activations     |cpu - reference| <= 4e-7 |reference| + 1e-35, derivatives <= 2.5e-6 max(|reference|, 1)
 *                   (a derivative crosses 0 where the reference's own error is absolute), on [-100, 100] in
 *                   steps of 2^-12 and at the extremes; NaN exactly where the reference gives NaN (no NaN
 *                   at large |x|), infinities equal.
 *
 * Everything here is plain float arithmetic in C order. The build keeps floating-point contraction off
 * (ISO C), so a loop computes the same bits in every target clone (AVX-512, AVX2, baseline x86-64) and in
 * scalar code: results do not depend on the machine's vector width. */
#ifndef RLDT_CPU_MATH_H
#define RLDT_CPU_MATH_H

#include <stdint.h>
#include <string.h>

#include "rldt/nn.h"

/* The hot loops of the CPU backend are compiled once per instruction set and picked at load time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RLDT_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RLDT_CPU_CLONES
#endif
/* A helper holding a hot loop is inlined into each clone, so that it is compiled for the clone's target. */
#define RLDT_CPU_INLINE static inline __attribute__((always_inline))

static inline uint32_t rldt_cpu_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float rldt_cpu_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* e^x as Cephes' expf computes it: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two so that n ln2_hi
 * is exact), e^r by a degree-7 polynomial, times 2^n built from exponent bits in two halves (n reaches 128
 * just below overflow). n is rounded with the 1.5 * 2^23 trick, so no call and no branch. */
static inline float rldt_cpu_expf(float x)
{
    const float hi = 88.7228317f;  /* largest x with a finite expf(x) */
    const float lo = -87.3365479f; /* expf(lo) = FLT_MIN: below it the result flushes to 0 */
    const float round = 12582912.0f;
    float xc = x > lo ? x : lo; /* NaN -> lo here; the selects at the end restore it */
    xc = xc < hi ? xc : hi;
    float t = xc * 1.44269504088896341f + round;
    float n = t - round;
    int32_t k = (int32_t)(rldt_cpu_bits(t) - rldt_cpu_bits(round)), k1 = k / 2, k2 = k - k1;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    y = y * rldt_cpu_float((uint32_t)(k1 + 127) << 23) * rldt_cpu_float((uint32_t)(k2 + 127) << 23);
    y = x >= lo ? y : 0.0f;
    y = x <= hi ? y : INFINITY;
    return x == x ? y : x;
}

/* tanh(x): Cephes' odd polynomial below |x| = 0.625, 1 - 2 / (e^{2|x|} + 1) above (both computed, one
 * kept). */
static inline float rldt_cpu_tanhf(float x)
{
    float ax = x < 0.0f ? -x : x, z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float big = 1.0f - 2.0f / (rldt_cpu_expf(2.0f * ax) + 1.0f);
    big = x < 0.0f ? -big : big;
    return ax < 0.625f ? small : big;
}

/* The reference's sigmoid, 1 / (1 + e^-x). */
static inline float rldt_cpu_sigmoidf(float x) { return 1.0f / (1.0f + rldt_cpu_expf(-x)); }

/* tanh(softplus(x)) = n / (n + 2) with n = e (e + 2), e = e^x, and 1 above x = 20 (rldt_tanh_softplusf);
 * e comes from rldt_cpu_exp20. */
static inline float rldt_cpu_exp20(float x) { return rldt_cpu_expf(x < 20.0f ? x : 20.0f); }

static inline float rldt_cpu_tanh_softplusf(float x, float e)
{
    float n = e * (e + 2.0f), th = n / (n + 2.0f);
    return x > 20.0f ? 1.0f : th;
}

/* rldt_act_f with the branch-free exp and tanh. */
static inline float rldt_cpu_act_f(rldt_act_t a, float x)
{
    switch (a) {
    case RLDT_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case RLDT_ACT_SILU: return x * rldt_cpu_sigmoidf(x);
    case RLDT_ACT_MISH: return x * rldt_cpu_tanh_softplusf(x, rldt_cpu_exp20(x));
    case RLDT_ACT_TANH: return rldt_cpu_tanhf(x);
    default: return x;
    }
}

/* rldt_act_df with the branch-free exp and tanh (Mish's sigmoid comes from the same e^x: e / (1 + e)). */
static inline float rldt_cpu_act_df(rldt_act_t a, float x)
{
    switch (a) {
    case RLDT_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case RLDT_ACT_SILU: {
        float s = rldt_cpu_sigmoidf(x);
        return s * (1.0f + x * (1.0f - s));
    }
    case RLDT_ACT_MISH: {
        float e = rldt_cpu_exp20(x), th = rldt_cpu_tanh_softplusf(x, e), s = e / (1.0f + e);
        return th + x * (1.0f - th * th) * s;
    }
    case RLDT_ACT_TANH: {
        float th = rldt_cpu_tanhf(x);
        return 1.0f - th * th;
    }
    default: return 1.0f;
    }
}

#endif
