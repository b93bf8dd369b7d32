/* backend_cpu.c — the CPU backend: the reference implementation of every op in rldt_backend_t.
 *
 * It is also meant to be fast: a training step should cost about what its GEMMs cost.
 *  - One set of threads does all the work (cpu_parallel.h): OpenBLAS runs single-threaded inside them.
 *  - A linear layer goes through its rows in tiles, each tile taken from its bias (and residual) through
 *    its GEMM to its activation while it is in cache; backward makes a tile's pre-activation gradient and
 *    its share of the bias gradient in one pass, then that tile's input-gradient GEMM.
 *  - Elementwise loops are branch-free (cpu_math.h), compiled once per instruction set (RLDT_CPU_CLONES)
 *    and split over the threads when long.
 * Results do not depend on the instruction set. Reductions (bias gradients, sums of squares) add one
 * partial sum per thread in a fixed order: deterministic for a given thread count. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include <cblas.h>

#include "cpu_math.h"
#include "cpu_parallel.h"
#include "rldt/backend.h"
#include "rldt/rng.h"
#include "rldt/transport.h"

static void *cpu_alloc(size_t bytes) { return calloc(1, bytes ? bytes : 1); }
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }
static void cpu_sync(void) {}
static double cpu_mem_free(void) { return -1.0; } /* host memory: the memory check reads the machine's */

// ---------------------------------------------------------------------------------------------------
// elementwise loops: each a branch-free body over a range (compiled per instruction set), split over the
// backend's threads when long (cpu_parallel.h)

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

/* The arguments of every elementwise op: each uses the fields it names. */
typedef struct {
    float *y;
    const float *x, *z;
    float a;
    rldt_act_t act;
    rldt_adam_t opt;
    float lr, bc1, bc2;
    float *m, *v;
    double *partial; /* [parts] of a reduction */
} ew_t;

/* out[i] = act(in[i]); out may be in. (Always inlined: a loop is compiled for its caller's clone.) */
RLDT_CPU_INLINE void act_fwd_loop(rldt_act_t a, float *out, const float *in, size_t n)
{
#define FWD(A) for (size_t i = 0; i < n; i++) out[i] = rldt_cpu_act_f(A, in[i])
    FOR_EACH_ACT(a, FWD)
#undef FWD
}

/* din[i] = dout[i] * act'(in[i]); din may be dout. */
RLDT_CPU_INLINE void act_bwd_loop(rldt_act_t a, float *din, const float *dout, const float *in, size_t n)
{
#define BWD(A) for (size_t i = 0; i < n; i++) din[i] = dout[i] * rldt_cpu_act_df(A, in[i])
    FOR_EACH_ACT(a, BWD)
#undef BWD
}

RLDT_CPU_CLONES static void act_fwd_n(rldt_act_t a, float *out, const float *in, size_t n) { act_fwd_loop(a, out, in, n); }

RLDT_CPU_CLONES static void act_bwd_n(rldt_act_t a, float *din, const float *dout, const float *in, size_t n)
{
    act_bwd_loop(a, din, dout, in, n);
}

static void act_fwd_range(const void *e_, size_t i, size_t j, int part)
{
    const ew_t *e = e_;
    act_fwd_n(e->act, e->y + i, e->x + i, j - i);
}

static void act_bwd_range(const void *e_, size_t i, size_t j, int part)
{
    const ew_t *e = e_;
    act_bwd_n(e->act, e->y + i, e->x + i, e->z + i, j - i);
}

static void cpu_act_forward(rldt_act_t a, float *out, const float *in, size_t n)
{
    rldt_cpu_range(act_fwd_range, &(ew_t){.y = out, .x = in, .act = a}, n);
}

static void cpu_act_backward(rldt_act_t a, float *din, const float *dout, const float *in, size_t n)
{
    rldt_cpu_range(act_bwd_range, &(ew_t){.y = din, .x = dout, .z = in, .act = a}, n);
}

/* Adam: the options are copied into the body's own struct, so the compiler knows no store changes them. */
RLDT_CPU_CLONES static void adam_range(const void *e_, size_t i, size_t j, int part)
{
    const ew_t *e = e_;
    rldt_adam_t o = e->opt;
    float lr = e->lr, bc1 = e->bc1, bc2 = e->bc2, *p = e->y, *m = e->m, *v = e->v;
    const float *g = e->x;
    for (; i < j; i++) rldt_adam_elem(&o, lr, bc1, bc2, &p[i], g[i], &m[i], &v[i]);
}

static void cpu_adam_step(const rldt_adam_t *o, float lr, long step, float *p, const float *g, float *m, float *v, size_t n)
{
    ew_t e = {.y = p, .x = g, .m = m, .v = v, .opt = *o, .lr = lr};
    rldt_adam_bias_corrections(o, step, &e.bc1, &e.bc2);
    rldt_cpu_range(adam_range, &e, n);
}

RLDT_CPU_CLONES static void lerp_range(const void *e_, size_t i, size_t j, int part)
{
    const ew_t *e = e_;
    float *y = e->y, w = e->a;
    const float *x = e->x;
    for (; i < j; i++) y[i] += w * (x[i] - y[i]);
}

static void cpu_lerp(float *dst, const float *src, float w, size_t n)
{
    rldt_cpu_range(lerp_range, &(ew_t){.y = dst, .x = src, .a = w}, n);
}

RLDT_CPU_CLONES static void scale_range(const void *e_, size_t i, size_t j, int part)
{
    const ew_t *e = e_;
    float *y = e->y, a = e->a;
    for (; i < j; i++) y[i] *= a;
}

static void cpu_scale(float *y, float a, size_t n) { rldt_cpu_range(scale_range, &(ew_t){.y = y, .a = a}, n); }

RLDT_CPU_CLONES static void axpy_range(const void *e_, size_t i, size_t j, int part)
{
    const ew_t *e = e_;
    float *y = e->y, a = e->a;
    const float *x = e->x;
    for (; i < j; i++) y[i] += a * x[i];
}

static void cpu_axpy(float *y, float a, const float *x, size_t n)
{
    rldt_cpu_range(axpy_range, &(ew_t){.y = y, .x = x, .a = a}, n);
}

RLDT_CPU_CLONES static void euler_range(const void *e_, size_t i, size_t j, int part)
{
    const ew_t *e = e_;
    float *y = e->y, a = e->a;
    const float *x = e->x, *v = e->z;
    for (; i < j; i++) y[i] = x[i] + a * v[i];
}

static void cpu_euler_step(float *out, const float *x, const float *v, float dt, size_t n)
{
    rldt_cpu_range(euler_range, &(ew_t){.y = out, .x = x, .z = v, .a = dt}, n);
}

RLDT_CPU_CLONES static void fill_range(const void *e_, size_t i, size_t j, int part)
{
    const ew_t *e = e_;
    float *y = e->y, a = e->a;
    for (; i < j; i++) y[i] = a;
}

static void cpu_fill(float *x, float value, size_t n) { rldt_cpu_range(fill_range, &(ew_t){.y = x, .a = value}, n); }

/* Sum of x (or of its squares) in 8 double lanes (a fixed grouping, so every instruction set adds in the
 * same order). `square` is a constant in each caller, so each gets its own branch-free loop. */
RLDT_CPU_INLINE double lane_sum(const float *x, size_t i, size_t j, int square)
{
    double lane[8] = {0}, s = 0.0;
    for (; i + 8 <= j; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += square ? (double)x[i + k] * (double)x[i + k] : (double)x[i + k];
    for (; i < j; i++) s += square ? (double)x[i] * (double)x[i] : (double)x[i];
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

RLDT_CPU_CLONES static void sumsq_range(const void *e_, size_t i, size_t j, int part)
{
    const ew_t *e = e_;
    e->partial[part] = lane_sum(e->x, i, j, 1);
}

RLDT_CPU_CLONES static void sum_range(const void *e_, size_t i, size_t j, int part)
{
    const ew_t *e = e_;
    e->partial[part] = lane_sum(e->x, i, j, 0);
}

/* A range reduction: one partial per thread, added in thread order. */
static double cpu_reduce(void (*range)(const void *, size_t, size_t, int), const float *x, size_t n)
{
    double partial[RLDT_CPU_MAX_THREADS], s = 0.0;
    int parts = rldt_cpu_range(range, &(ew_t){.x = x, .partial = partial}, n);
    for (int p = 0; p < parts; p++) s += partial[p];
    return s;
}

static double cpu_sumsq(const float *x, size_t n) { return cpu_reduce(sumsq_range, x, n); }
static double cpu_sum(const float *x, size_t n) { return cpu_reduce(sum_range, x, n); }

// ---------------------------------------------------------------------------------------------------
// neural-network ops

/* A tile holds about TILE_FLOATS floats of input, pre-activation and output rows (2 MB: a core's L2 or
 * close), and at least TILE_MIN_ROWS rows: each GEMM call packs W anew, which costs a GEMM of that many
 * rows about 1%. */
#define TILE_FLOATS (1 << 19)
#define TILE_MIN_ROWS 256
/* Below this many flops a linear layer runs on the calling thread alone. */
#define SPLIT_FLOPS (1 << 21)

static int tile_rows(int ni, int no)
{
    int r = TILE_FLOATS / (ni + 2 * no);
    return r < TILE_MIN_ROWS ? TILE_MIN_ROWS : r;
}

/* Threads for B rows of a layer: one per thread when the GEMMs are big enough to pay for the hand-off. */
static int row_parts(int B, int ni, int no)
{
    int t = rldt_cpu_threads(), most = (B + 15) / 16;
    if (2.0 * B * ni * no < SPLIT_FLOPS) return 1;
    return t < most ? t : most;
}

typedef struct {
    float *pre, *post, *din, *dW, *dpre, *colsum;
    const float *in, *W, *b, *res, *dpost, *dres, *saved_pre; /* saved_pre: backward's pre-activation */
    rldt_act_t act;
    int B, ni, no;
} linear_t;

/* pre = b (+ res) for `rows` rows; res may be pre. */
RLDT_CPU_CLONES static void bias_rows(float *pre, const float *res, const float *b, int rows, int no)
{
    for (int r = 0; r < rows; r++) {
        float *y = pre + (size_t)r * no;
        const float *s = res ? res + (size_t)r * no : NULL;
        if (s)
            for (int o = 0; o < no; o++) y[o] = s[o] + b[o];
        else
            for (int o = 0; o < no; o++) y[o] = b[o];
    }
}

/* Rows [r0, r1) of part p, in tiles: bias (+ residual), GEMM on top (beta = 1), then the activation. */
static void linear_forward_part(void *ctx, int p, int parts)
{
    const linear_t *L = ctx;
    int no = L->no, ni = L->ni, tile = tile_rows(ni, no);
    int r0 = (int)rldt_cpu_split((size_t)L->B, p, parts, 1), r1 = (int)rldt_cpu_split((size_t)L->B, p + 1, parts, 1);
    for (int r = r0; r < r1; r += tile) {
        int rows = r1 - r < tile ? r1 - r : tile;
        float *pre = L->pre + (size_t)r * no;
        bias_rows(pre, L->res ? L->res + (size_t)r * no : NULL, L->b, rows, no);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, no, ni, 1.0f, L->in + (size_t)r * ni, ni, L->W, ni,
                    1.0f, pre, no);
        if (L->post) act_fwd_n(L->act, L->post + (size_t)r * no, pre, (size_t)rows * no);
    }
}

static void cpu_linear_forward(float *pre, float *post, const float *in, const float *W, const float *b,
                               const float *res, rldt_act_t act, int B, int ni, int no)
{
    if (B <= 0) return;
    linear_t L = {.pre = pre, .post = post, .in = in, .W = W, .b = b, .res = res, .act = act, .B = B, .ni = ni, .no = no};
    rldt_cpu_parallel(linear_forward_part, &L, row_parts(B, ni, no));
}

/* dpre = dpost * act'(pre) (+ dres) for `rows` rows (dpre may be dpost; with act = identity, no dres and
 * dpre = dpost nothing changes), and colsum[o] += the column sums of dpre when colsum is not NULL. */
RLDT_CPU_CLONES static void dpre_rows(float *dpre, float *colsum, const float *dpost, const float *dres, const float *pre,
                                      rldt_act_t act, int rows, int no)
{
    for (int r = 0; r < rows; r++) {
        size_t at = (size_t)r * no;
        float *d = dpre + at;
        if (act != RLDT_ACT_IDENTITY || d != dpost + at) act_bwd_loop(act, d, dpost + at, pre + at, (size_t)no);
        if (dres)
            for (int o = 0; o < no; o++) d[o] += dres[at + o];
        if (colsum)
            for (int o = 0; o < no; o++) colsum[o] += d[o];
    }
}

/* Rows of part p, in tiles: the tile's dpre and its column sums (into the part's own row of colsum), then
 * its din = dpre W. */
static void linear_backward_part(void *ctx, int p, int parts)
{
    const linear_t *L = ctx;
    int no = L->no, ni = L->ni, tile = tile_rows(ni, no);
    int r0 = (int)rldt_cpu_split((size_t)L->B, p, parts, 1), r1 = (int)rldt_cpu_split((size_t)L->B, p + 1, parts, 1);
    float *colsum = L->colsum ? L->colsum + (size_t)p * no : NULL;
    for (int r = r0; r < r1; r += tile) {
        int rows = r1 - r < tile ? r1 - r : tile;
        size_t at = (size_t)r * no;
        dpre_rows(L->dpre + at, colsum, L->dpost + at, L->dres ? L->dres + at : NULL, L->saved_pre + at, L->act, rows, no);
        if (L->din)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, ni, no, 1.0f, L->dpre + at, no, L->W, ni, 0.0f,
                        L->din + (size_t)r * ni, ni);
    }
}

/* dW += dpre^T in, split over its rows (outputs) when there are enough of them, else over its columns. */
static void linear_dW_part(void *ctx, int p, int parts)
{
    const linear_t *L = ctx;
    int no = L->no, ni = L->ni, by_rows = no >= 16 * parts;
    int n = by_rows ? no : ni;
    int c0 = (int)rldt_cpu_split((size_t)n, p, parts, 1), c1 = (int)rldt_cpu_split((size_t)n, p + 1, parts, 1);
    if (c1 <= c0) return;
    if (by_rows)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c1 - c0, ni, L->B, 1.0f, L->dpre + c0, no, L->in, ni, 1.0f,
                    L->dW + (size_t)c0 * ni, ni);
    else
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, c1 - c0, L->B, 1.0f, L->dpre, no, L->in + c0, ni, 1.0f,
                    L->dW + c0, ni);
}

static void cpu_linear_backward(float *din, float *dW, float *db, float *dpre, const float *dpost, const float *dres,
                                const float *pre, rldt_act_t act, const float *in, const float *W, int B, int ni, int no)
{
    if (B <= 0) return;
    int parts = row_parts(B, ni, no);
    /* one row of bias-gradient partial sums per part: on the stack unless the layer is very wide */
    float stack[4096], *colsum = NULL;
    if (dW) {
        size_t n = (size_t)parts * no;
        colsum = n <= sizeof stack / sizeof stack[0] ? stack : rldt_xmalloc(sizeof(float) * n);
        memset(colsum, 0, sizeof(float) * n);
    }
    linear_t L = {.din = din, .dW = dW, .dpre = dpre, .colsum = colsum, .in = in, .W = W, .dpost = dpost, .dres = dres,
                  .saved_pre = pre, .act = act, .B = B, .ni = ni, .no = no};
    parts = rldt_cpu_parallel(linear_backward_part, &L, parts);
    if (!dW) return;
    rldt_cpu_parallel(linear_dW_part, &L, row_parts(B, ni, no));
    for (int p = 0; p < parts; p++)
        for (int o = 0; o < no; o++) db[o] += colsum[(size_t)p * no + o];
    if (colsum != stack) free(colsum);
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

static void cpu_axpy_cols(float *y, int ld_y, const float *x, int ld_x, float a, int ncols, int B)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < ncols; c++) y[(size_t)b * ld_y + c] += a * x[(size_t)b * ld_x + c];
}

static void cpu_minimum(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = fminf(y[i], x[i]);
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

static void cpu_gather_rows(float *dst, const float *src, const int *rows, int n, int width, int repeat)
{
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)i * width, src + (size_t)rows[i / repeat] * width, sizeof(float) * (size_t)width);
}

static void cpu_explore(float *exec, const float *a, const float *at, const float *noise, int N, int D)
{
    for (int n = 0; n < N; n++) {
        size_t o = (size_t)n * D;
        rldt_explore_row(exec + o, a + o, at + o, noise + o, D);
    }
}

// ---------------------------------------------------------------------------------------------------
// convolution and images (rldt/conv.h): the index math is the shared RLDT_HD code; each op splits its
// output rows (an image row of output pixels) over the threads, every element written by one thread

/* y[i] += x[i] for a run of n floats. */
RLDT_CPU_CLONES static void add_run(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i++) y[i] += x[i];
}

typedef struct {
    float *y;
    const float *x;
    const uint8_t *img;
    rldt_conv_t g;
    int B, H, W, C, pad;
    uint64_t seed, stream, counter;
} image_op_t;

/* Rows (b, oy) of part p: for each output pixel, each tap's C channels are one contiguous run in the input
 * and in col (a copy, or zeros in the padding). */
static void im2col_part(void *ctx, int p, int parts)
{
    const image_op_t *a = ctx;
    rldt_conv_t g = a->g;
    size_t n = (size_t)a->B * g.Ho, r0 = rldt_cpu_split(n, p, parts, 1), r1 = rldt_cpu_split(n, p + 1, parts, 1);
    size_t run = sizeof(float) * (size_t)g.C;
    for (size_t r = r0; r < r1; r++) {
        int b = (int)(r / (size_t)g.Ho), oy = (int)(r % (size_t)g.Ho);
        float *dst = a->y + r * g.Wo * g.R * g.R * g.C;
        for (int ox = 0; ox < g.Wo; ox++)
            for (int ky = 0; ky < g.R; ky++)
                for (int kx = 0; kx < g.R; kx++, dst += g.C) {
                    long long src = rldt_im2col_src(g, b, oy, ox, ky, kx);
                    if (src < 0)
                        memset(dst, 0, run);
                    else
                        memcpy(dst, a->x + src, run);
                }
    }
}

/* Images of part p, scattered: din = 0, then tap by tap in increasing (ky, kx), each output pixel's C-run
 * of dcol added onto the input pixel it read. Every element of din then receives its terms in the order
 * rldt_col2im_elem adds them (the device's gather), so the two give the same bits; and a pass is a
 * straight run of vector adds instead of a divisibility test per tap and element. */
static void col2im_part(void *ctx, int p, int parts)
{
    const image_op_t *a = ctx;
    rldt_conv_t g = a->g;
    int b0 = (int)rldt_cpu_split((size_t)a->B, p, parts, 1), b1 = (int)rldt_cpu_split((size_t)a->B, p + 1, parts, 1);
    size_t ni = (size_t)g.R * g.R * g.C, img = (size_t)g.H * g.W * g.C;
    for (int b = b0; b < b1; b++) {
        memset(a->y + (size_t)b * img, 0, sizeof(float) * img);
        for (int ky = 0; ky < g.R; ky++)
            for (int kx = 0; kx < g.R; kx++)
                for (int oy = 0; oy < g.Ho; oy++)
                    for (int ox = 0; ox < g.Wo; ox++) {
                        long long dst = rldt_im2col_src(g, b, oy, ox, ky, kx);
                        if (dst < 0) continue;
                        const float *src = a->x + (((size_t)b * g.Ho + oy) * g.Wo + ox) * ni + ((size_t)ky * g.R + kx) * g.C;
                        add_run(a->y + dst, src, g.C);
                    }
    }
}

/* Images of part p. */
static void image_shift_part(void *ctx, int p, int parts)
{
    const image_op_t *a = ctx;
    int b0 = (int)rldt_cpu_split((size_t)a->B, p, parts, 1), b1 = (int)rldt_cpu_split((size_t)a->B, p + 1, parts, 1);
    for (int b = b0; b < b1; b++) {
        int dy = a->pad, dx = a->pad;
        if (a->pad) rldt_shift_offsets(a->seed, a->stream, a->counter, b, a->pad, &dy, &dx);
        float *dst = a->y + (size_t)b * a->H * a->W * a->C;
        for (int y = 0; y < a->H; y++)
            for (int x = 0; x < a->W; x++)
                for (int c = 0; c < a->C; c++)
                    *dst++ = rldt_shift_pixel(a->img, a->H, a->W, a->C, a->pad, dy, dx, b, y, x, c);
    }
}

/* Parts for an image op over `rows` rows of `row_floats` floats: one when it is small. */
static int image_parts(size_t rows, size_t row_floats)
{
    int t = rldt_cpu_threads();
    return rows * row_floats < 16384 ? 1 : (size_t)t < rows ? t : (int)rows;
}

static void cpu_im2col(float *col, const float *in, rldt_conv_t g, int B)
{
    if (B <= 0) return;
    image_op_t a = {.y = col, .x = in, .g = g, .B = B};
    rldt_cpu_parallel(im2col_part, &a, image_parts((size_t)B * g.Ho, (size_t)g.Wo * g.R * g.R * g.C));
}

static void cpu_col2im(float *din, const float *dcol, rldt_conv_t g, int B)
{
    if (B <= 0) return;
    image_op_t a = {.y = din, .x = dcol, .g = g, .B = B};
    rldt_cpu_parallel(col2im_part, &a, image_parts((size_t)B, rldt_conv_col_floats(&g)));
}

static void cpu_image_shift(float *out, const uint8_t *in, int B, int H, int W, int C, int pad, uint64_t seed,
                            uint64_t stream, uint64_t counter)
{
    if (B <= 0) return;
    image_op_t a = {.y = out, .img = in, .B = B, .H = H, .W = W, .C = C, .pad = pad, .seed = seed, .stream = stream,
                    .counter = counter};
    rldt_cpu_parallel(image_shift_part, &a, image_parts((size_t)B, (size_t)H * W * C));
}

static void cpu_td_lambda(float *G, const float *r, const uint8_t *terminated, const uint8_t *ended, const float *qnext,
                          const int *seg_rows, int nseg, int T, float gamma, float lambda, double r_div, float q_lo, float q_hi)
{
    for (int s = 0; s < nseg; s++) {
        size_t row = (size_t)seg_rows[s];
        rldt_td_lambda(G + row, r + row, terminated + row, ended + row, qnext + (size_t)s * T, T, gamma, lambda, r_div, q_lo, q_hi);
    }
}

static void cpu_draw_index(int *k, float *t, int t_div, const int *table, int offset, uint32_t below, size_t n, uint64_t seed,
                           uint64_t stream, uint64_t counter)
{
    for (size_t i = 0; i < n; i++) {
        int j = offset + (int)rldt_philox_below_at(seed, stream, counter, i, below);
        int v = table ? table[j] : j;
        if (k) k[i] = v;
        if (t) t[i] = (float)v / (float)t_div;
    }
}

typedef struct {
    float *out;
    const float *t;
    int B, dim;
} time_features_t;

/* A row whose t has the bits of the row before it is a copy of that row (in a sampling pass every row
 * has the same t). */
static void time_features_part(void *ctx, int p, int parts)
{
    const time_features_t *a = ctx;
    int dim = a->dim, r0 = (int)rldt_cpu_split((size_t)a->B, p, parts, 1), r1 = (int)rldt_cpu_split((size_t)a->B, p + 1, parts, 1);
    for (int r = r0; r < r1; r++) {
        float *y = a->out + (size_t)r * dim;
        if (r > r0 && rldt_cpu_bits(a->t[r]) == rldt_cpu_bits(a->t[r - 1]))
            memcpy(y, y - dim, sizeof(float) * (size_t)dim);
        else
            for (int j = 0; j < dim; j++) y[j] = rldt_time_feature(a->t[r], j, dim);
    }
}

static void cpu_time_features(float *out, const float *t, int B, int dim)
{
    time_features_t a = {out, t, B, dim};
    rldt_cpu_parallel(time_features_part, &a, (size_t)B * dim < 4096 ? 1 : rldt_cpu_threads());
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
    .mem_free = cpu_mem_free,
    .fill_normal = rldt_philox_fill_normal,
    .fill_uniform = rldt_philox_fill_uniform,
    .draw_index = cpu_draw_index,
    .adam_step = cpu_adam_step,
    .lerp = cpu_lerp,
    .scale = cpu_scale,
    .sumsq = cpu_sumsq,
    .sum = cpu_sum,
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
    .euler_step = cpu_euler_step,
    .expected_target = cpu_expected_target,
    .gather_rows = cpu_gather_rows,
    .explore = cpu_explore,
    .im2col = cpu_im2col,
    .col2im = cpu_col2im,
    .image_shift = cpu_image_shift,
    .svgd_field = rldt_svgd_field_cpu,
    .actor_grad = rldt_actor_grad_cpu,
    .td_lambda = cpu_td_lambda,
    .time_features = cpu_time_features,
    .mse = cpu_mse,
};

const rldt_backend_t *rldt_backend_cpu(void)
{
    if (!cpu_backend.device[0]) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        snprintf(cpu_backend.device, sizeof cpu_backend.device, "CPU, %ld cores, OpenBLAS (%s kernels)", ncpu,
                 openblas_get_corename());
    }
    return &cpu_backend;
}
