/* test_parity_ops.c — the device backend's RNG, optimiser, elementwise, reduction and RLDT ops against the
 * CPU backend (see parity.h), on fixed edge shapes (B = 1, P = 1, D = 1, D not a multiple of 32, tails past
 * a block, P = 64 with D = 256, many states) and seeded random ones. Every check runs under PARITY_ORDERS
 * (each of the emulator's thread orders). Device outputs start as NaN, so an element a kernel misses fails.
 *
 * Error bounds: |device − cpu| / max(|device|, |cpu|, floor) <= tol, per op below. Where a bound is not 0 it
 * allows what a GPU legitimately does differently: nvcc contracts a*b + c into one FMA (one rounding fewer
 * than the CPU build), its expf/sinf/cosf/logf differ from glibc by an ulp or two, and the reductions add in
 * a fixed tree order instead of the CPU's sequential one. */
#define _DEFAULT_SOURCE /* setenv/unsetenv in PARITY_ORDERS */
#include <stdio.h>

#include "parity.h"
#include "rldt/transport.h"

/* An op the device backend does not have yet is skipped by name. */
#define NEED(op)                                                                                           \
    if (!cu->op) cr_skip_test("skipped: the device backend has no " #op " kernel yet")

static double max_abs(const float *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

static void dev_free(const rldt_backend_t *be, float *d) { be->free(d); }

// ---------------------------------------------------------------------------------------------------
// RNG and optimiser ops (bounds: fill_uniform exact; fill_normal 1e-5 (logf/cosf of Box–Muller); adam,
// lerp, scale 1e-5 / 1e-6 relative with the 1e-3 floor of expect_close)

static void check_fills(const rldt_backend_t *cu, const rldt_backend_t *cpu, size_t n)
{
    float *ref = malloc(sizeof(float) * n), *d = nan_dev(cu, n);
    cpu->fill_normal(ref, n, 77, 5, 1000);
    cu->fill_normal(d, n, 77, 5, 1000);
    expect_close(cu, d, ref, n, 1e-5, "fill_normal");
    cpu->fill_uniform(ref, n, 77, 6, 3);
    cu->fill_uniform(d, n, 77, 6, 3);
    expect_close(cu, d, ref, n, 0.0, "fill_uniform"); /* exact: integer bits to float */
    cu->free(d);
    free(ref);
}

Test(parity, fill_normal_and_uniform)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    static const size_t sizes[] = {1, 3, 4, 5, 100003}; /* not multiples of 4: the tail block is partial */
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) PARITY_ORDERS(cu, check_fills(cu, cpu, sizes[s]));
}

static void check_adam(const rldt_backend_t *cu, const rldt_backend_t *cpu, size_t n)
{
    rldt_adam_t o = rldt_adam_default();
    o.weight_decay = 0.01f;
    o.decoupled = true;
    float *p = test_random_array(n, -1, 1, 1), *g = test_random_array(n, -1, 1, 2);
    float *m = test_random_array(n, -0.1f, 0.1f, 3), *v = test_random_array(n, 0, 0.1f, 4);
    float *dp = to_dev(cu, p, n), *dg = to_dev(cu, g, n), *dm = to_dev(cu, m, n), *dv = to_dev(cu, v, n);
    cpu->adam_step(&o, 1e-3f, 7, p, g, m, v, n);
    cu->adam_step(&o, 1e-3f, 7, dp, dg, dm, dv, n);
    expect_close(cu, dp, p, n, 1e-5, "adam p");
    expect_close(cu, dm, m, n, 1e-5, "adam m");
    expect_close(cu, dv, v, n, 1e-5, "adam v");
    cu->free(dp), cu->free(dg), cu->free(dm), cu->free(dv);
    free(p), free(g), free(m), free(v);
}

Test(parity, adam_step)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    PARITY_ORDERS(cu, check_adam(cu, cpu, 1));
    PARITY_ORDERS(cu, check_adam(cu, cpu, 4099));
}

static void check_lerp_scale(const rldt_backend_t *cu, const rldt_backend_t *cpu, size_t n)
{
    float *a = test_random_array(n, -1, 1, 5), *b = test_random_array(n, -1, 1, 6);
    float *da = to_dev(cu, a, n), *db = to_dev(cu, b, n);
    cpu->lerp(a, b, 0.005f, n);
    cu->lerp(da, db, 0.005f, n);
    expect_close(cu, da, a, n, 1e-6, "lerp");
    cpu->scale(a, -0.37f, n);
    cu->scale(da, -0.37f, n);
    expect_close(cu, da, a, n, 1e-6, "scale");
    cu->free(da), cu->free(db);
    free(a), free(b);
}

Test(parity, lerp_scale)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    PARITY_ORDERS(cu, check_lerp_scale(cu, cpu, 1));
    PARITY_ORDERS(cu, check_lerp_scale(cu, cpu, 70001));
}

// ---------------------------------------------------------------------------------------------------
// reductions. Sizes around one block (256 threads), one full grid (1024 blocks x 256 = 262144: past it the
// grid-stride loop wraps) and past it. Bounds: sumsq and the mse loss 1e-12 relative (the squares are exact in double; only
// the order of the double additions differs); the mse gradient 2·d/n is exact (0).

static const size_t reduce_sizes[] = {1, 2, 255, 256, 257, 5003, 65537, 262144, 300007};
#define NREDUCE (sizeof reduce_sizes / sizeof *reduce_sizes)

/* sumsq over n floats that start `off` floats into their buffer (off % 4 != 0: the one-float path) */
static void check_sumsq(const rldt_backend_t *cu, const rldt_backend_t *cpu, size_t n, size_t off)
{
    float *x = test_random_array(n + off, -2, 2, 30 + n % 7);
    float *dx = to_dev(cu, x, n + off);
    double ref = cpu->sumsq(x + off, n), got = cu->sumsq(dx + off, n);
    cr_assert_leq(test_rel_err(got, ref, 1e-300), 1e-12, "sumsq n=%zu off=%zu: %.17g vs %.17g", n, off, got, ref);
    cu->free(dx);
    free(x);
}

Test(parity, sumsq)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    NEED(sumsq);
    for (size_t s = 0; s < NREDUCE; s++) PARITY_ORDERS(cu, check_sumsq(cu, cpu, reduce_sizes[s], 0));
    PARITY_ORDERS(cu, check_sumsq(cu, cpu, 1100003, 0)); /* four floats per step: the grid wraps past 1M */
    PARITY_ORDERS(cu, check_sumsq(cu, cpu, 5003, 1));
    cr_assert_eq(cu->sumsq(NULL, 0), 0.0);
}

static void check_mse(const rldt_backend_t *cu, const rldt_backend_t *cpu, size_t n)
{
    float *a = test_random_array(n, -1, 1, 13), *b = test_random_array(n, -1, 1, 14), *g = malloc(sizeof(float) * n);
    float *A = to_dev(cu, a, n), *Bd = to_dev(cu, b, n), *G = nan_dev(cu, n);
    double ref = cpu->mse(a, b, g, n), got = cu->mse(A, Bd, G, n);
    cr_assert_leq(test_rel_err(got, ref, 1e-300), 1e-12, "mse n=%zu: %.17g vs %.17g", n, got, ref);
    expect_close(cu, G, g, n, 0.0, "mse grad");
    got = cu->mse(A, Bd, NULL, n); /* loss only */
    cr_assert_leq(test_rel_err(got, ref, 1e-300), 1e-12, "mse (no grad) n=%zu: %.17g vs %.17g", n, got, ref);
    cu->free(A), cu->free(Bd), cu->free(G);
    free(a), free(b), free(g);
}

Test(parity, mse)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    NEED(mse);
    for (size_t s = 0; s < NREDUCE; s++) PARITY_ORDERS(cu, check_mse(cu, cpu, reduce_sizes[s]));
    cr_assert_eq(cu->mse(NULL, NULL, NULL, 0), 0.0);
}

// ---------------------------------------------------------------------------------------------------
// elementwise ops over [B][D] shapes. Bounds (floor 1: the inputs are O(1), so this is an absolute bound on
// O(1) values): axpy, axpy_cols, euler_step, flow_pair's xt, expected_target 1e-6 (one FMA per element); fill,
// copy_cols, minimum, chain_select, flow_pair's target (a − z) exact; time_features 1e-5 relative, floor
// 1e-3 (device sinf/cosf/expf).

static void check_elementwise(const rldt_backend_t *cu, const rldt_backend_t *cpu, int B, int D, uint64_t st)
{
    size_t n = (size_t)B * D;
    int W = D + 9; /* a wider matrix holding a block of D columns at an offset */
    size_t nw = (size_t)B * W;
    float *a = test_random_array(n, -1, 1, st), *z = test_random_array(n, -1, 1, st + 1);
    float *t = test_random_array((size_t)B, 0, 1, st + 2);
    for (size_t i = 0; i < n; i += 5) z[i] = a[i]; /* ties for minimum */
    float *xt = malloc(sizeof(float) * n), *tg = malloc(sizeof(float) * n), *wide = malloc(sizeof(float) * nw);
    float *A = to_dev(cu, a, n), *Z = to_dev(cu, z, n), *T = to_dev(cu, t, (size_t)B);
    float *XT = nan_dev(cu, n), *TG = nan_dev(cu, n), *WIDE = nan_dev(cu, nw);

    cpu->flow_pair(xt, tg, a, z, t, B, D);
    cu->flow_pair(XT, TG, A, Z, T, B, D);
    expect_close_floor(cu, XT, xt, n, 1e-6, 1.0, "flow_pair xt");
    expect_close_floor(cu, TG, tg, n, 0.0, 1e-3, "flow_pair target");

    cpu->fill(wide, 0.25f, nw);
    cu->fill(WIDE, 0.25f, nw);
    expect_close_floor(cu, WIDE, wide, nw, 0.0, 1e-3, "fill");
    cpu->fill(wide + 1, -2.0f, nw - 1); /* a view off the 16-byte grid: element 0 keeps its value */
    cu->fill(WIDE + 1, -2.0f, nw - 1);
    expect_close_floor(cu, WIDE, wide, nw, 0.0, 1e-3, "fill (unaligned)");
    cpu->copy_cols(wide, W, 7, a, D, 0, D, B); /* pack into columns 7..7+D */
    cu->copy_cols(WIDE, W, 7, A, D, 0, D, B);
    expect_close_floor(cu, WIDE, wide, nw, 0.0, 1e-3, "copy_cols (pack)");
    int nc = D > 1 ? D - 1 : 1;
    cpu->copy_cols(xt, D, 0, wide, W, 5, nc, B); /* extract columns 5..5+nc into the first nc of a row */
    cu->copy_cols(XT, D, 0, WIDE, W, 5, nc, B);
    expect_close_floor(cu, XT, xt, n, 1e-6, 1.0, "copy_cols (extract)");

    cpu->axpy(a, -0.5f, z, n);
    cu->axpy(A, -0.5f, Z, n);
    expect_close_floor(cu, A, a, n, 1e-6, 1.0, "axpy");
    cu->upload(A, a, sizeof(float) * n);
    cpu->euler_step(xt, a, z, 0.125f, n); /* into another buffer, then in place */
    cu->euler_step(XT, A, Z, 0.125f, n);
    expect_close_floor(cu, XT, xt, n, 1e-6, 1.0, "euler_step");
    cpu->euler_step(a, a, z, -0.25f, n);
    cu->euler_step(A, A, Z, -0.25f, n);
    expect_close_floor(cu, A, a, n, 1e-6, 1.0, "euler_step (in place)");
    /* each op below starts from the CPU's inputs, so its bound is its own (not the ulps of the ops before) */
    cu->upload(A, a, sizeof(float) * n);
    cu->upload(WIDE, wide, sizeof(float) * nw);
    cpu->axpy_cols(wide + 3, W, a, D, 0.75f, D, B); /* dense source into a strided block */
    cu->axpy_cols(WIDE + 3, W, A, D, 0.75f, D, B);
    expect_close_floor(cu, WIDE, wide, nw, 1e-6, 1.0, "axpy_cols (into a block)");
    cu->upload(WIDE, wide, sizeof(float) * nw);
    cpu->axpy_cols(z, D, wide + 1, W, -1.25f, nc, B); /* strided source into a dense matrix */
    cu->axpy_cols(Z, D, WIDE + 1, W, -1.25f, nc, B);
    expect_close_floor(cu, Z, z, n, 1e-6, 1.0, "axpy_cols (from a block)");
    cu->upload(Z, z, sizeof(float) * n);
    cpu->minimum(a, z, n);
    cu->minimum(A, Z, n);
    expect_close_floor(cu, A, a, n, 0.0, 1e-3, "minimum");
    cu->upload(A, a, sizeof(float) * n);

    float *ET = nan_dev(cu, n);
    cpu->expected_target(xt, a, z, t, B, D);
    cu->expected_target(ET, A, Z, T, B, D);
    expect_close_floor(cu, ET, xt, n, 1e-6, 1.0, "expected_target");

    enum { K = 3 }; /* a chain [K+1][B][D] and one step per row */
    float *chain = test_random_array((size_t)(K + 1) * n, -3, 3, st + 3);
    int *k = malloc(sizeof(int) * (size_t)B);
    rldt_rng_t r;
    rldt_rng_init(&r, 1, st + 4);
    for (int i = 0; i < B; i++) k[i] = (int)rldt_rng_below(&r, K + 1);
    float *CH = to_dev(cu, chain, (size_t)(K + 1) * n), *SEL = nan_dev(cu, n);
    int *Kd = cu->alloc(sizeof(int) * (size_t)B);
    cu->upload(Kd, k, sizeof(int) * (size_t)B);
    cpu->chain_select(xt, chain, k, B, D);
    cu->chain_select(SEL, CH, Kd, B, D);
    expect_close_floor(cu, SEL, xt, n, 0.0, 1e-3, "chain_select");

    static const int dims[] = {2, 6, 16, 32};
    for (int s = 0; s < 4; s++) {
        int dim = dims[s];
        float *tf = malloc(sizeof(float) * (size_t)B * dim), *TF = nan_dev(cu, (size_t)B * dim);
        cpu->time_features(tf, t, B, dim);
        cu->time_features(TF, T, B, dim);
        expect_close_floor(cu, TF, tf, (size_t)B * dim, 1e-5, 1e-3, "time_features");
        cu->free(TF);
        free(tf);
    }

    dev_free(cu, A), dev_free(cu, Z), dev_free(cu, T), dev_free(cu, XT), dev_free(cu, TG), dev_free(cu, WIDE);
    dev_free(cu, ET), dev_free(cu, CH), dev_free(cu, SEL), cu->free(Kd);
    free(a), free(z), free(t), free(xt), free(tg), free(wide), free(chain), free(k);
}

Test(parity, elementwise)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    NEED(axpy);
    NEED(axpy_cols);
    NEED(euler_step);
    NEED(minimum);
    NEED(fill);
    NEED(copy_cols);
    NEED(flow_pair);
    NEED(chain_select);
    NEED(expected_target);
    NEED(time_features);
    /* {B, D}: single element, one row, one column, small, D not a multiple of 32, past one block, many rows */
    int shapes[10][2] = {{1, 1}, {1, 37}, {7, 1}, {50, 12}, {333, 31}, {129, 257}, {4099, 3}, {0}, {0}, {0}};
    rldt_rng_t r;
    rldt_rng_init(&r, 2, 40);
    for (int s = 7; s < 10; s++) shapes[s][0] = 1 + (int)rldt_rng_below(&r, 600), shapes[s][1] = 1 + (int)rldt_rng_below(&r, 300);
    for (int s = 0; s < 10; s++) PARITY_ORDERS(cu, check_elementwise(cu, cpu, shapes[s][0], shapes[s][1], 50 + 10 * (uint64_t)s));
}

// ---------------------------------------------------------------------------------------------------
// svgd_field. Bounds: φ_id within 1e-5 of its row's term scale (1/P)·Σ_j k_j·(|g_jd| + (α/h)·|x_d − a_jd|),
// the size of the terms it sums: φ is a sum of P signed terms that can cancel to almost nothing, and each
// term carries the ulp differences of d², h and expf (times d²/2h, but k·d²/2h <= 1/e); h 2e-5 relative (d²
// sums D squares, each may be fused on the GPU); α 1e-6 relative (P norms of D squares).

/* Downloads φ and checks it against the CPU's within tol of each row's term scale (computed in double from
 * the CPU's h and α). */
static void expect_field_close(const rldt_backend_t *cu, const float *PHI, const float *phi, const float *x,
                               const float *a, const float *g, const float *h, const float *alpha, int B, int Q, int P,
                               int D, double tol, const char *what)
{
    size_t nx = (size_t)B * Q * D;
    float *got = malloc(sizeof(float) * (nx ? nx : 1));
    double *k = malloc(sizeof(double) * (size_t)P);
    cu->download(got, PHI, sizeof(float) * nx);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Q; i++) {
            size_t row = (size_t)b * Q + i;
            const float *xi = x + row * D, *ab = a + (size_t)b * P * D, *gb = g + (size_t)b * P * D;
            for (int j = 0; j < P; j++) {
                double sq = 0.0;
                for (int d = 0; d < D; d++) sq += ((double)xi[d] - ab[j * D + d]) * ((double)xi[d] - ab[j * D + d]);
                k[j] = exp(-sq / (2.0 * h[row]));
            }
            double scale = 0.0;
            for (int d = 0; d < D; d++) {
                double s = 0.0;
                for (int j = 0; j < P; j++)
                    s += k[j] * (fabs(gb[j * D + d]) + alpha[b] / h[row] * fabs((double)xi[d] - ab[j * D + d]));
                scale = fmax(scale, s / P);
            }
            for (int d = 0; d < D; d++) {
                size_t e = row * D + d;
                cr_assert(isfinite(got[e]), "%s: element %zu not written (%g)", what, e, got[e]);
                double err = fabs((double)got[e] - phi[e]) / fmax(scale, 1e-30);
                cr_assert_leq(err, tol, "%s: element %zu: %.9g vs %.9g (error %g of the term scale %g > %g)", what, e,
                              got[e], phi[e], err, scale, tol);
            }
        }
    free(got), free(k);
}

enum { FIELD_PLAIN, FIELD_TIES, FIELD_COLLAPSED, FIELD_BIG_GRAD };

/* Particles a[B][P][D] ~ U(−1, 1), gradients g ~ U(−1, 1) (x1e6 for FIELD_BIG_GRAD: α is clipped), queries
 * x[B][Q][D] near particle i % P (as the expected targets a†_k sit near their chain's final action).
 * FIELD_TIES: every other particle repeats its predecessor (equal distances around the median);
 * FIELD_COLLAPSED: all particles and queries within 1e-5 of a point far from the origin (h clamps). */
static void check_svgd(const rldt_backend_t *cu, const rldt_backend_t *cpu, int B, int Q, int P, int D, float tau,
                       int kind, uint64_t st)
{
    size_t na = (size_t)B * P * D, nx = (size_t)B * Q * D, nh = (size_t)B * Q;
    float *a = test_random_array(na, -1, 1, st), *g = test_random_array(na, -1, 1, st + 1);
    float *x = test_random_array(nx, -0.3f, 0.3f, st + 2);
    if (kind == FIELD_COLLAPSED) {
        for (size_t i = 0; i < na; i++) a[i] = 100.0f + 1e-5f * a[i];
        for (size_t i = 0; i < nx; i++) x[i] *= 3e-5f;
    }
    if (kind == FIELD_TIES)
        for (int b = 0; b < B; b++)
            for (int j = 1; j < P; j += 2) memcpy(a + ((size_t)b * P + j) * D, a + ((size_t)b * P + j - 1) * D, sizeof(float) * D);
    if (kind == FIELD_BIG_GRAD)
        for (size_t i = 0; i < na; i++) g[i] *= 1e6f;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Q; i++)
            for (int d = 0; d < D; d++) x[((size_t)b * Q + i) * D + d] += a[((size_t)b * P + i % P) * D + d];
    float *phi = malloc(sizeof(float) * nx), *h = malloc(sizeof(float) * nh), *alpha = malloc(sizeof(float) * B);
    float *Ad = to_dev(cu, a, na), *Gd = to_dev(cu, g, na), *Xd = to_dev(cu, x, nx);
    float *PHI = nan_dev(cu, nx), *H = nan_dev(cu, nh), *AL = nan_dev(cu, (size_t)B);
    cpu->svgd_field(phi, h, alpha, x, a, g, B, Q, P, D, tau);
    cu->svgd_field(PHI, H, AL, Xd, Ad, Gd, B, Q, P, D, tau);
    char what[128];
    snprintf(what, sizeof what, "svgd_field B=%d Q=%d P=%d D=%d kind=%d: phi", B, Q, P, D, kind);
    expect_field_close(cu, PHI, phi, x, a, g, h, alpha, B, Q, P, D, 1e-5, what);
    snprintf(what, sizeof what, "svgd_field B=%d Q=%d P=%d D=%d kind=%d: h", B, Q, P, D, kind);
    expect_close_floor(cu, H, h, nh, 2e-5, 1e-30, what);
    snprintf(what, sizeof what, "svgd_field B=%d Q=%d P=%d D=%d kind=%d: alpha", B, Q, P, D, kind);
    expect_close_floor(cu, AL, alpha, (size_t)B, 1e-6, 1e-30, what);
    dev_free(cu, Ad), dev_free(cu, Gd), dev_free(cu, Xd), dev_free(cu, PHI), dev_free(cu, H), dev_free(cu, AL);
    free(a), free(g), free(x), free(phi), free(h), free(alpha);
}

Test(parity, svgd_field)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    NEED(svgd_field);
    /* {B, Q, P, D, kind} */
    static const int shapes[][5] = {
        {1, 1, 1, 1, FIELD_PLAIN},      /* everything 1 */
        {3, 1, 1, 7, FIELD_PLAIN},      /* P = 1: the median is the only distance */
        {1, 8, 8, 24, FIELD_PLAIN},     /* B = 1, the published P with the hopper chunk */
        {300, 8, 8, 24, FIELD_PLAIN},   /* many states (blocks) */
        {5, 3, 8, 33, FIELD_PLAIN},     /* Q != P, D not a multiple of 32 */
        {4, 7, 5, 31, FIELD_PLAIN},     /* odd P */
        {6, 8, 8, 13, FIELD_TIES},      /* equal distances around the lower median */
        {3, 7, 7, 9, FIELD_TIES},
        {2, 8, 8, 3, FIELD_COLLAPSED},  /* h clamped at 1e-8 */
        {3, 6, 6, 10, FIELD_BIG_GRAD},  /* α clipped */
        {2, 64, 64, 256, FIELD_PLAIN},  /* the largest staged shape */
        {2, 70, 64, 40, FIELD_PLAIN},   /* Q past one tile of queries (4096 / P = 64 per tile) */
        {1, 5, 64, 600, FIELD_PLAIN},   /* too big for shared memory: a and g read from global memory */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int *sh = shapes[s];
        for (int k = 0; k < 2; k++) /* a small τ (the published one) and a large one (the repulsion matters) */
            PARITY_ORDERS(cu, check_svgd(cu, cpu, sh[0], sh[1], sh[2], sh[3], k ? 0.5f : 0.001f, sh[4], 100 + 10 * (uint64_t)s));
    }
    /* the threads per state forced (the outputs must not depend on them): one state per block, and eight
     * states of 32 threads per block with groups past the last state */
    static const char *const groups[] = {"32", "256", "7"};
    for (int k = 0; k < 3; k++) {
        setenv("RLDT_SVGD_THREADS", groups[k], 1);
        PARITY_ORDERS(cu, check_svgd(cu, cpu, 13, 8, 8, 24, 0.5f, FIELD_PLAIN, 150));
        PARITY_ORDERS(cu, check_svgd(cu, cpu, 2, 70, 64, 40, 0.5f, FIELD_PLAIN, 160));
        PARITY_ORDERS(cu, check_svgd(cu, cpu, 1, 5, 64, 600, 0.5f, FIELD_PLAIN, 170));
    }
    unsetenv("RLDT_SVGD_THREADS");
    rldt_rng_t r; /* seeded random shapes, Q = P as in RLDT */
    rldt_rng_init(&r, 3, 60);
    for (int s = 0; s < 4; s++) {
        int B = 1 + (int)rldt_rng_below(&r, 40), P = 1 + (int)rldt_rng_below(&r, 64), D = 1 + (int)rldt_rng_below(&r, 100);
        PARITY_ORDERS(cu, check_svgd(cu, cpu, B, P, P, D, 0.2f, FIELD_PLAIN, 200 + 10 * (uint64_t)s));
    }
}

// ---------------------------------------------------------------------------------------------------
// actor_grad. Bounds: dv 1e-5 relative, floored at 1e-3 of the largest |dv| (each element is a difference
// of two terms, fused differently on the GPU); the two losses 1e-5 relative (sums in double of float terms
// that may differ by an ulp each).

static void check_actor_grad(const rldt_backend_t *cu, const rldt_backend_t *cpu, int N, int D, uint64_t st,
                             double out[2])
{
    enum { K = 8 };
    size_t n = (size_t)N * D;
    float *v = test_random_array(n, -1, 1, st), *phi = test_random_array(n, -1, 1, st + 1);
    float *a = test_random_array(n, -1, 1, st + 2), *xk = test_random_array(n, -1.5f, 1.5f, st + 3);
    float *t = malloc(sizeof(float) * (size_t)N), *dv = malloc(sizeof(float) * n);
    rldt_rng_t r;
    rldt_rng_init(&r, 1, st + 4);
    for (int i = 0; i < N; i++) t[i] = (float)rldt_rng_below(&r, K) / K;
    float *V = to_dev(cu, v, n), *PHI = to_dev(cu, phi, n), *A = to_dev(cu, a, n), *XK = to_dev(cu, xk, n);
    float *T = to_dev(cu, t, (size_t)N), *DV = nan_dev(cu, n);
    double lt, lc, dlt, dlc;
    cpu->actor_grad(dv, &lt, &lc, v, phi, a, xk, t, N, D, K, 0.5f);
    cu->actor_grad(DV, &dlt, &dlc, V, PHI, A, XK, T, N, D, K, 0.5f);
    char what[96];
    snprintf(what, sizeof what, "actor_grad N=%d D=%d: dv", N, D);
    expect_close_floor(cu, DV, dv, n, 1e-5, fmax(1e-3 * max_abs(dv, n), 1e-30), what);
    cr_assert_leq(test_rel_err(dlt, lt, 1e-30), 1e-5, "actor_grad N=%d D=%d: L_transport %.9g vs %.9g", N, D, dlt, lt);
    cr_assert_leq(test_rel_err(dlc, lc, 1e-30), 1e-5, "actor_grad N=%d D=%d: L_consist %.9g vs %.9g", N, D, dlc, lc);
    if (out) out[0] = dlt, out[1] = dlc;
    dev_free(cu, V), dev_free(cu, PHI), dev_free(cu, A), dev_free(cu, XK), dev_free(cu, T), dev_free(cu, DV);
    free(v), free(phi), free(a), free(xk), free(t), free(dv);
}

Test(parity, actor_grad)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    NEED(actor_grad);
    static const int shapes[][2] = {{1, 1}, {1, 24}, {64, 24}, {333, 31}, {1000, 257}, {11, 6000}}; /* {N, D} */
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        PARITY_ORDERS(cu, check_actor_grad(cu, cpu, shapes[s][0], shapes[s][1], 300 + 10 * (uint64_t)s, NULL));
    double lt = 1, lc = 1;
    cu->actor_grad(NULL, &lt, &lc, NULL, NULL, NULL, NULL, NULL, 0, 24, 8, 0.5f);
    cr_assert(lt == 0.0 && lc == 0.0, "N = 0: both losses 0");
}

// ---------------------------------------------------------------------------------------------------
// determinism (issue 9 item 4): a reduction repeated on the same input gives the same bits, whatever the
// thread order (each order of the emulator, and on a GPU whatever the scheduler does), because every sum is
// added in an order fixed by n.

/* Runs the reductions twice; the first call ever records the results, every later one must match them. */
static void check_repeatable(const rldt_backend_t *cu, const rldt_backend_t *cpu, const float *X, const float *Y,
                             float *G, size_t n, double first[4], int *runs)
{
    for (int rep = 0; rep < 2; rep++) {
        double again[4], ag[2];
        check_actor_grad(cu, cpu, 300, 257, 400, ag);
        again[0] = cu->sumsq(X, n);
        again[1] = cu->mse(X, Y, G, n);
        again[2] = ag[0];
        again[3] = ag[1];
        if ((*runs)++ == 0) memcpy(first, again, sizeof again);
        cr_assert(memcmp(first, again, sizeof again) == 0,
                  "run %d differs: sumsq %.17g/%.17g mse %.17g/%.17g L_T %.17g/%.17g L_C %.17g/%.17g", *runs, first[0],
                  again[0], first[1], again[1], first[2], again[2], first[3], again[3]);
    }
}

Test(parity, reductions_are_deterministic)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    NEED(sumsq);
    NEED(mse);
    NEED(actor_grad);
    size_t n = 300007;
    float *x = test_random_array(n, -1, 1, 70), *y = test_random_array(n, -1, 1, 71);
    float *X = to_dev(cu, x, n), *Y = to_dev(cu, y, n), *G = nan_dev(cu, n);
    double first[4] = {0};
    int runs = 0;
    PARITY_ORDERS(cu, check_repeatable(cu, cpu, X, Y, G, n, first, &runs));
    cu->free(X), cu->free(Y), cu->free(G);
    free(x), free(y);
}
