/* test_cpu_math.c — the CPU backend's fast paths against their references: the branch-free exp and tanh
 * against libm over a sweep of every float bit pattern (a stride through all 2^32), the activations the
 * backend computes against rldt_act_f / rldt_act_df (the math shared with the GPU), the tiled and
 * threaded linear layer against a plain double-precision one, the threaded elementwise ops against their
 * per-element definitions, and the flushing of denormals. The bounds asserted here are the ones cpu_math.h
 * states. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "../host/nn/cpu_math.h"
#include "helpers.h"
#include "rldt/backend.h"
#include "rldt/optim.h"

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

/* v with a denormal flushed to a zero of its sign, as the backend's ops treat their inputs. */
static float flushed(float v) { return fabsf(v) < FLT_MIN ? copysignf(0.0f, v) : v; }

/* cpu_math.h's scalar activation (d: its derivative) at x, computed in the floating-point mode the backend's
 * ops run in (denormals flushed to zero on x86). */
static float scalar_in_op_mode(rldt_act_t a, int d, float x)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned mode = _mm_getcsr();
    _mm_setcsr(mode | 0x8040u);
#endif
    float v = d ? rldt_cpu_act_df(a, x) : rldt_cpu_act_f(a, x);
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(mode);
#endif
    return v;
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

// ---------------------------------------------------------------------------------------------------
// the backend's activations against the shared reference

/* x over [-100, 100] in steps of 2^-12 (819,201 points) followed by the extremes. */
static float *act_inputs(size_t *n)
{
    size_t m = 200 * 4096 + 1;
    float *x = malloc(sizeof(float) * (m + NEXTREMES));
    for (size_t i = 0; i < m; i++) x[i] = -100.0f + (float)i / 4096.0f;
    memcpy(x + m, extremes, sizeof extremes);
    *n = m + NEXTREMES;
    return x;
}

/* The backend's act_forward / act_backward (the instruction set this machine dispatches to) against
 * rldt_act_f / rldt_act_df at the input with denormals flushed: |cpu - ref| <= 4e-7 |ref| + 1e-35 forward,
 * <= 2.5e-6 max(|ref|, 1) for the derivative (which passes through 0, where the reference itself only has
 * absolute accuracy); NaN exactly where the reference has NaN, infinities equal. And bit-for-bit the scalar formula of cpu_math.h in the
 * ops' floating-point mode: every clone computes the same bits. */
Test(cpu_math, activations_match_the_shared_reference)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    size_t n;
    float *x = act_inputs(&n), *y = malloc(sizeof(float) * n), *ones = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) ones[i] = 1.0f;
    for (int a = RLDT_ACT_IDENTITY; a <= RLDT_ACT_TANH; a++)
        for (int d = 0; d < 2; d++) {
            if (d)
                be->act_backward((rldt_act_t)a, y, ones, x, n);
            else
                be->act_forward((rldt_act_t)a, y, x, n);
            double worst = 0.0;
            for (size_t i = 0; i < n; i++) {
                float xf = flushed(x[i]), r = d ? rldt_act_df((rldt_act_t)a, xf) : rldt_act_f((rldt_act_t)a, xf);
                float s = scalar_in_op_mode((rldt_act_t)a, d, x[i]);
                cr_assert(memcmp(&s, &y[i], 4) == 0 || (isnan(s) && isnan(y[i])), "act %d%s(%a): backend %a, scalar %a",
                          a, d ? "'" : "", x[i], y[i], s);
                if (isnan(r) || isnan(y[i]) || isinf(r) || isinf(y[i])) {
                    cr_assert(isnan(r) ? isnan(y[i]) : r == y[i], "act %d%s(%a): %a, reference %a", a, d ? "'" : "",
                              x[i], y[i], r);
                    continue;
                }
                double err = fabs((double)y[i] - r), bound = d ? 2.5e-6 * fmax(fabs(r), 1.0) : 4e-7 * fabs(r) + 1e-35;
                cr_assert_leq(err, bound, "act %d%s(%a) = %a, reference %a", a, d ? "'" : "", x[i], y[i], r);
                worst = fmax(worst, err / bound);
            }
            cr_log_info("act %d%s: worst error %.2f of the bound", a, d ? "'" : "", worst);
        }
    free(x), free(y), free(ones);
}

// ---------------------------------------------------------------------------------------------------
// the linear layer: tiles and threads against a plain double-precision layer

/* pre = in W^T + b (+ res), post = act(pre); backward as in rldt/backend.h, all in double. */
static void linear_ref(double *pre, double *post, double *din, double *dW, double *db, double *dpre, const float *in,
                       const float *W, const float *b, const float *res, const float *dpost, const float *dres,
                       rldt_act_t act, int B, int ni, int no)
{
    for (int r = 0; r < B; r++)
        for (int o = 0; o < no; o++) {
            double s = b[o] + (res ? res[(size_t)r * no + o] : 0.0);
            for (int i = 0; i < ni; i++) s += (double)in[(size_t)r * ni + i] * W[(size_t)o * ni + i];
            size_t at = (size_t)r * no + o;
            pre[at] = s;
            post[at] = rldt_act_f(act, (float)s);
            dpre[at] = dpost[at] * rldt_act_df(act, (float)s) + (dres ? dres[at] : 0.0);
        }
    memset(din, 0, sizeof(double) * (size_t)B * ni);
    memset(dW, 0, sizeof(double) * (size_t)no * ni);
    memset(db, 0, sizeof(double) * (size_t)no);
    for (int r = 0; r < B; r++)
        for (int o = 0; o < no; o++) {
            double g = dpre[(size_t)r * no + o];
            db[o] += g;
            for (int i = 0; i < ni; i++) {
                din[(size_t)r * ni + i] += g * W[(size_t)o * ni + i];
                dW[(size_t)o * ni + i] += g * in[(size_t)r * ni + i];
            }
        }
}

/* Largest |a - ref| / max(rms(ref), |ref|) over n values. */
static double rms_err(const float *a, const double *ref, size_t n)
{
    double ss = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++) ss += ref[i] * ref[i];
    double rms = sqrt(ss / (double)n);
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - ref[i]) / fmax(rms, fabs(ref[i])));
    return worst;
}

/* Shapes that make several tiles per thread and uneven parts (a tile is about 2^17 floats of a layer's
 * rows), with a residual and an activation, in place (dpre = dpost, as the MLP calls it) and not; on 1
 * thread, on 2, and on 2 again, which must repeat the first 2-thread run bit for bit. (1 and 2 threads
 * may differ in the last bits: OpenBLAS's rounding can depend on how many rows a call gets.) */
Test(cpu_math, linear_layer_tiles_and_threads_match_a_plain_layer)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    const int shapes[][3] = {{97, 300, 2000}, {50, 3000, 7}, {33, 64, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int B = shapes[s][0], ni = shapes[s][1], no = shapes[s][2];
        size_t nin = (size_t)B * ni, nout = (size_t)B * no, nw = (size_t)no * ni;
        float *in = test_random_array(nin, -1, 1, 1), *W = test_random_array(nw, -0.1f, 0.1f, 2);
        float *b = test_random_array((size_t)no, -1, 1, 3), *res = test_random_array(nout, -1, 1, 4);
        float *dpost = test_random_array(nout, -1, 1, 5), *dres = test_random_array(nout, -1, 1, 6);
        double *rp = malloc(sizeof(double) * nout), *rq = malloc(sizeof(double) * nout), *rd = malloc(sizeof(double) * nout);
        double *rdin = malloc(sizeof(double) * nin), *rdW = malloc(sizeof(double) * nw), *rdb = malloc(sizeof(double) * no);
        linear_ref(rp, rq, rdin, rdW, rdb, rd, in, W, b, res, dpost, dres, RLDT_ACT_SILU, B, ni, no);
        float *out[2][5];
        for (int run = 0; run < 3; run++) {
            rldt_backend_cpu_threads(run ? 2 : 1);
            float *pre = malloc(sizeof(float) * nout), *post = malloc(sizeof(float) * nout);
            float *din = malloc(sizeof(float) * nin), *dW = calloc(nw, sizeof(float)), *db = calloc((size_t)no, sizeof(float));
            float *g = malloc(sizeof(float) * nout), *dpre = malloc(sizeof(float) * nout);
            be->linear_forward(pre, post, in, W, b, res, RLDT_ACT_SILU, B, ni, no);
            memcpy(g, dpost, sizeof(float) * nout);
            be->linear_backward(din, dW, db, g, g, dres, pre, RLDT_ACT_SILU, in, W, B, ni, no); /* in place */
            cr_assert_leq(rms_err(pre, rp, nout), 1e-5, "shape %zu, run %d: pre", s, run);
            cr_assert_leq(rms_err(post, rq, nout), 1e-5, "shape %zu, run %d: post", s, run);
            cr_assert_leq(rms_err(g, rd, nout), 1e-5, "shape %zu, run %d: dpre", s, run);
            cr_assert_leq(rms_err(din, rdin, nin), 1e-5, "shape %zu, run %d: din", s, run);
            cr_assert_leq(rms_err(dW, rdW, nw), 1e-5, "shape %zu, run %d: dW", s, run);
            cr_assert_leq(rms_err(db, rdb, (size_t)no), 1e-5, "shape %zu, run %d: db", s, run);
            /* out of place, no activation, no residual, no input gradient: dpre = dpost, dpost untouched */
            be->linear_backward(NULL, dW, db, dpre, dpost, NULL, pre, RLDT_ACT_IDENTITY, in, W, B, ni, no);
            cr_assert(memcmp(dpre, dpost, sizeof(float) * nout) == 0, "shape %zu: identity dpre", s);
            float *kept[5] = {post, din, g, dW, db};
            if (run == 2) {
                size_t sizes[5] = {nout, nin, nout, nw, (size_t)no};
                for (int k = 0; k < 5; k++)
                    cr_assert(memcmp(out[1][k], kept[k], sizeof(float) * sizes[k]) == 0,
                              "shape %zu: output %d differs between two 2-thread runs", s, k);
            }
            for (int k = 0; k < 5; k++) {
                if (run < 2) out[run][k] = kept[k];
                if (run == 2) free(kept[k]);
            }
            free(pre), free(dpre);
        }
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 5; k++) free(out[r][k]);
        free(in), free(W), free(b), free(res), free(dpost), free(dres);
        free(rp), free(rq), free(rd), free(rdin), free(rdW), free(rdb);
    }
}

// ---------------------------------------------------------------------------------------------------
// threaded elementwise ops

/* Adam, lerp, scale, axpy and fill split over 2 threads give exactly their per-element definitions; the
 * sum of squares is the double-precision sum to rounding. */
Test(cpu_math, threaded_elementwise_ops_match_their_definitions)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    rldt_backend_cpu_threads(2);
    size_t n = 300007;
    float *p = test_random_array(n, -1, 1, 1), *g = test_random_array(n, -1, 1, 2), *m = test_random_array(n, -1, 1, 3);
    float *v = test_random_array(n, 0, 1, 4);
    float *p2 = malloc(sizeof(float) * n), *m2 = malloc(sizeof(float) * n), *v2 = malloc(sizeof(float) * n);
    memcpy(p2, p, sizeof(float) * n), memcpy(m2, m, sizeof(float) * n), memcpy(v2, v, sizeof(float) * n);
    for (int decoupled = 0; decoupled < 2; decoupled++) {
        rldt_adam_t o = {0.9f, 0.999f, 1e-8f, 0.01f, decoupled};
        float bc1, bc2;
        rldt_adam_bias_corrections(&o, 3, &bc1, &bc2);
        be->adam_step(&o, 1e-3f, 3, p, g, m, v, n);
        for (size_t i = 0; i < n; i++) rldt_adam_elem(&o, 1e-3f, bc1, bc2, &p2[i], g[i], &m2[i], &v2[i]);
        cr_assert(memcmp(p, p2, sizeof(float) * n) == 0 && memcmp(m, m2, sizeof(float) * n) == 0 &&
                  memcmp(v, v2, sizeof(float) * n) == 0, "adam (decoupled %d)", decoupled);
    }
    be->lerp(p, g, 0.3f, n);
    for (size_t i = 0; i < n; i++) p2[i] += 0.3f * (g[i] - p2[i]);
    be->scale(p, -1.5f, n);
    for (size_t i = 0; i < n; i++) p2[i] *= -1.5f;
    be->axpy(p, 0.25f, g, n);
    for (size_t i = 0; i < n; i++) p2[i] += 0.25f * g[i];
    cr_assert(memcmp(p, p2, sizeof(float) * n) == 0, "lerp, scale, axpy");
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)p[i] * p[i];
    cr_assert_lt(test_rel_err(be->sumsq(p, n), s, 1e-30), 1e-12);
    be->fill(p, 7.0f, n);
    for (size_t i = 0; i < n; i++) cr_assert_eq(p[i], 7.0f);
    free(p), free(g), free(m), free(v), free(p2), free(m2), free(v2);
}

/* Denormals are flushed to zero inside the backend's ops, on every thread (a denormal operand costs a
 * microcode assist on x86), and the calling thread's own floating-point mode is back after each op. */
Test(cpu_math, ops_flush_denormals_and_restore_the_callers_mode)
{
#if defined(__x86_64__) || defined(__i386__)
    const rldt_backend_t *be = rldt_backend_cpu();
    rldt_backend_cpu_threads(2);
    const size_t sizes[] = {100, (size_t)1 << 17}; /* inline, and split over the threads */
    for (int s = 0; s < 2; s++) {
        size_t n = sizes[s];
        float *y = be->alloc(sizeof(float) * n);
        for (size_t i = 0; i < n; i++) /* denormals of both signs */
            y[i] = (i % 2 ? -1.0f : 1.0f) * FLT_MIN * 0.25f * (float)(1 + i % 3);
        be->scale(y, 1.0f, n);
        for (size_t i = 0; i < n; i++) cr_assert_eq(y[i], 0.0f, "n %zu: y[%zu] = %g kept", n, i, (double)y[i]);
        for (size_t i = 0; i < n; i++) y[i] = FLT_MIN * (float)(2 + i % 5);
        be->scale(y, 0.125f, n); /* normal inputs, denormal results */
        for (size_t i = 0; i < n; i++) cr_assert_eq(y[i], 0.0f, "n %zu: y[%zu] = %g", n, i, (double)y[i]);
        be->free(y);
    }
    volatile float tiny = FLT_MIN, half = 0.5f;
    cr_assert_gt(tiny * half, 0.0f, "the caller's mode still keeps denormals");
#else
    cr_skip_test("flushing denormals is only set on x86");
#endif
}
