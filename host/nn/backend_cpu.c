/* backend_cpu.c — the CPU backend: the reference implementation of every op in rldt_backend_t. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include <cblas.h>

#include "rldt/backend.h"
#include "rldt/rng.h"
#include "rldt/transport.h"

static void *cpu_alloc(size_t bytes) { return calloc(1, bytes ? bytes : 1); }
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }
static void cpu_sync(void) {}

static void cpu_adam_step(const rldt_adam_t *o, float lr, long step, float *p, const float *g, float *m, float *v, size_t n)
{
    float bc1, bc2;
    rldt_adam_bias_corrections(o, step, &bc1, &bc2);
    for (size_t i = 0; i < n; i++) rldt_adam_elem(o, lr, bc1, bc2, &p[i], g[i], &m[i], &v[i]);
}

static void cpu_lerp(float *dst, const float *src, float w, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] += w * (src[i] - dst[i]);
}

static void cpu_scale(float *y, float a, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] *= a;
}

static double cpu_sumsq(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
}


// ---------------------------------------------------------------------------------------------------
// neural-network ops

static void cpu_act_forward(rldt_act_t a, float *out, const float *in, size_t n);
static void cpu_act_backward(rldt_act_t a, float *din, const float *dout, const float *in, size_t n);

static void cpu_linear_forward(float *pre, float *post, const float *in, const float *W, const float *b,
                               const float *res, rldt_act_t act, int B, int ni, int no)
{
    for (int r = 0; r < B; r++) {
        float *y = pre + (size_t)r * no;
        if (res) {
            const float *s = res + (size_t)r * no;
            for (int o = 0; o < no; o++) y[o] = s[o] + b[o];
        } else {
            memcpy(y, b, sizeof(float) * (size_t)no);
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, no, ni, 1.0f, in, ni, W, ni, 1.0f, pre, no);
    if (post) cpu_act_forward(act, post, pre, (size_t)B * no);
}

static void cpu_linear_backward(float *din, float *dW, float *db, float *dpre, const float *dpost, const float *dres,
                                const float *pre, rldt_act_t act, const float *in, const float *W, int B, int ni, int no)
{
    size_t n = (size_t)B * no;
    if (act != RLDT_ACT_IDENTITY) {
        cpu_act_backward(act, dpre, dpost, pre, n);
    } else if (dpre != dpost) {
        memcpy(dpre, dpost, sizeof(float) * n);
    }
    if (dres)
        for (size_t i = 0; i < n; i++) dpre[i] += dres[i];
    if (din) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, ni, no, 1.0f, dpre, no, W, ni, 0.0f, din, ni);
    if (!dW) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, B, 1.0f, dpre, no, in, ni, 1.0f, dW, ni);
    for (int r = 0; r < B; r++)
        for (int o = 0; o < no; o++) db[o] += dpre[(size_t)r * no + o];
}

/* One loop per activation, so each loop body is the activation's own straight-line code (vectorisable)
 * instead of a switch per element. */
#define FOR_EACH_ACT(a, LOOP)                                                                              \
    switch (a) {                                                                                           \
    case RLDT_ACT_RELU: LOOP(RLDT_ACT_RELU); break;                                                        \
    case RLDT_ACT_SILU: LOOP(RLDT_ACT_SILU); break;                                                        \
    case RLDT_ACT_MISH: LOOP(RLDT_ACT_MISH); break;                                                        \
    case RLDT_ACT_TANH: LOOP(RLDT_ACT_TANH); break;                                                        \
    default: LOOP(RLDT_ACT_IDENTITY); break;                                                               \
    }

static void cpu_act_forward(rldt_act_t a, float *out, const float *in, size_t n)
{
#define FWD(A) for (size_t i = 0; i < n; i++) out[i] = rldt_act_f(A, in[i])
    FOR_EACH_ACT(a, FWD)
#undef FWD
}

static void cpu_act_backward(rldt_act_t a, float *din, const float *dout, const float *in, size_t n)
{
#define BWD(A) for (size_t i = 0; i < n; i++) din[i] = dout[i] * rldt_act_df(A, in[i])
    FOR_EACH_ACT(a, BWD)
#undef BWD
}

static void cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                                  const float *beta, int B, int C)
{
    for (int r = 0; r < B; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C;
        float m = 0.0f, v = 0.0f;
        for (int c = 0; c < C; c++) m += x[c];
        m /= (float)C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        float s = 1.0f / sqrtf(v / (float)C + RLDT_LN_EPS);
        for (int c = 0; c < C; c++) y[c] = (x[c] - m) * s * gamma[c] + beta[c];
        mean[r] = m;
        rstd[r] = s;
    }
}

/* dx = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)), with dnorm = dout * gamma. */
static void cpu_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                   const float *mean, const float *rstd, const float *gamma, int B, int C)
{
    for (int r = 0; r < B; r++) {
        const float *x = in + (size_t)r * C, *dy = dout + (size_t)r * C;
        float *dx = din + (size_t)r * C;
        float m = mean[r], s = rstd[r], dmean = 0.0f, dproj = 0.0f;
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - m) * s, dn = dy[c] * gamma[c];
            dmean += dn;
            dproj += dn * norm;
            if (dgamma) {
                dgamma[c] += dy[c] * norm;
                dbeta[c] += dy[c];
            }
        }
        dmean /= (float)C;
        dproj /= (float)C;
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - m) * s;
            dx[c] = s * (dy[c] * gamma[c] - dmean - norm * dproj);
        }
    }
}

static void cpu_axpy(float *y, float a, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void cpu_axpy_cols(float *y, int ld_y, const float *x, int ld_x, float a, int ncols, int B)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < ncols; c++) y[(size_t)b * ld_y + c] += a * x[(size_t)b * ld_x + c];
}

static void cpu_minimum(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = fminf(y[i], x[i]);
}

static void cpu_fill(float *x, float value, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = value;
}

static void cpu_copy_cols(float *dst, int ld_dst, int dst_off, const float *src, int ld_src, int src_off, int ncols,
                          int B)
{
    for (int b = 0; b < B; b++)
        memcpy(dst + (size_t)b * ld_dst + dst_off, src + (size_t)b * ld_src + src_off, sizeof(float) * (size_t)ncols);
}

static void cpu_flow_pair(float *xt, float *target, const float *a, const float *z, const float *t, int B, int D)
{
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)b * D + d;
            rldt_flow_pair_elem(t[b], a[i], z[i], &xt[i], &target[i]);
        }
}

static void cpu_chain_select(float *out, const float *chain, const int *k, int N, int D)
{
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * D, chain + ((size_t)k[n] * N + n) * D, sizeof(float) * (size_t)D);
}

static void cpu_expected_target(float *out, const float *x, const float *v, const float *t, int N, int D)
{
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)n * D + d;
            out[i] = x[i] + (1.0f - t[n]) * v[i];
        }
}

static void cpu_time_features(float *out, const float *t, int B, int dim)
{
    for (int r = 0; r < B; r++)
        for (int j = 0; j < dim; j++) out[(size_t)r * dim + j] = rldt_time_feature(t[r], j, dim);
}

static double cpu_mse(const float *pred, const float *target, float *grad, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        float d = pred[i] - target[i];
        s += (double)d * (double)d;
        if (grad) grad[i] = 2.0f * d / (float)n;
    }
    return n ? s / (double)n : 0.0;
}

static rldt_backend_t cpu_backend = {
    .abi = RLDT_BACKEND_ABI,
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .sync = cpu_sync,
    .fill_normal = rldt_philox_fill_normal,
    .fill_uniform = rldt_philox_fill_uniform,
    .adam_step = cpu_adam_step,
    .lerp = cpu_lerp,
    .scale = cpu_scale,
    .sumsq = cpu_sumsq,
    .linear_forward = cpu_linear_forward,
    .linear_backward = cpu_linear_backward,
    .act_forward = cpu_act_forward,
    .act_backward = cpu_act_backward,
    .layernorm_forward = cpu_layernorm_forward,
    .layernorm_backward = cpu_layernorm_backward,
    .axpy = cpu_axpy,
    .axpy_cols = cpu_axpy_cols,
    .minimum = cpu_minimum,
    .fill = cpu_fill,
    .copy_cols = cpu_copy_cols,
    .flow_pair = cpu_flow_pair,
    .chain_select = cpu_chain_select,
    .expected_target = cpu_expected_target,
    .svgd_field = rldt_svgd_field_cpu,
    .actor_grad = rldt_actor_grad_cpu,
    .time_features = cpu_time_features,
    .mse = cpu_mse,
};

void rldt_backend_cpu_threads(int n)
{
    if (n > 0) openblas_set_num_threads(n);
}

const rldt_backend_t *rldt_backend_cpu(void)
{
    if (!cpu_backend.device[0]) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        snprintf(cpu_backend.device, sizeof cpu_backend.device, "CPU, %ld cores, OpenBLAS", ncpu);
    }
    return &cpu_backend;
}
