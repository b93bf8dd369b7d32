/* test_parity.c — every op of the CUDA backend against its CPU twin on random inputs: relative error
 * bounded, and every output element written (outputs start as NaN on both sides). Skips cleanly when no
 * CUDA device is usable; an op the CUDA backend does not have yet is skipped by name. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "rldt/backend.h"

static const rldt_backend_t *cuda_or_skip(void)
{
    char why[256];
    const rldt_backend_t *cu = rldt_backend_cuda(why, sizeof why);
    if (!cu) cr_skip_test("skipped: no CUDA device (%s)", why);
    return cu;
}

/* A device copy of n host floats. */
static float *to_dev(const rldt_backend_t *be, const float *h, size_t n)
{
    float *d = be->alloc(sizeof(float) * n);
    cr_assert_not_null(d);
    be->upload(d, h, sizeof(float) * n);
    return d;
}

/* A device buffer of n NaNs (the "not written" sentinel). */
static float *nan_dev(const rldt_backend_t *be, size_t n)
{
    float *h = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) h[i] = NAN;
    float *d = to_dev(be, h, n);
    free(h);
    return d;
}

/* Downloads n floats and checks them against the CPU result: all finite, max relative error <= tol. */
static void expect_close(const rldt_backend_t *be, const float *dev, const float *ref, size_t n, double tol,
                         const char *what)
{
    float *h = malloc(sizeof(float) * n);
    be->download(h, dev, sizeof(float) * n);
    for (size_t i = 0; i < n; i++) cr_assert(isfinite(h[i]), "%s: element %zu not written (%g)", what, i, h[i]);
    double e = test_max_rel_err(h, ref, n, 1e-3);
    cr_assert_leq(e, tol, "%s: max relative error %g > %g", what, e, tol);
    free(h);
}

Test(parity, fill_normal_and_uniform)
{
    const rldt_backend_t *cu = cuda_or_skip(), *cpu = rldt_backend_cpu();
    size_t n = 100003; /* not a multiple of 4: the tail block is partial */
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

Test(parity, adam_step)
{
    const rldt_backend_t *cu = cuda_or_skip(), *cpu = rldt_backend_cpu();
    size_t n = 4099;
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

Test(parity, lerp_scale_sumsq)
{
    const rldt_backend_t *cu = cuda_or_skip(), *cpu = rldt_backend_cpu();
    size_t n = 70001;
    float *a = test_random_array(n, -1, 1, 5), *b = test_random_array(n, -1, 1, 6);
    float *da = to_dev(cu, a, n), *db = to_dev(cu, b, n);
    cpu->lerp(a, b, 0.005f, n);
    cu->lerp(da, db, 0.005f, n);
    expect_close(cu, da, a, n, 1e-6, "lerp");
    cpu->scale(a, -0.37f, n);
    cu->scale(da, -0.37f, n);
    expect_close(cu, da, a, n, 1e-6, "scale");
    cr_assert_lt(test_rel_err(cu->sumsq(da, n), cpu->sumsq(a, n), 1e-12), 1e-9);
    cu->free(da), cu->free(db);
    free(a), free(b);
}

/* The NN ops, each run only when the CUDA backend has it. */
#define NEED(op)                                                                                           \
    if (!cu->op) cr_skip_test("skipped: the CUDA backend has no " #op " kernel yet")

Test(parity, linear_forward_backward)
{
    const rldt_backend_t *cu = cuda_or_skip(), *cpu = rldt_backend_cpu();
    NEED(linear_forward);
    NEED(linear_backward);
    int B = 37, I = 45, O = 29;
    float *x = test_random_array((size_t)B * I, -1, 1, 1), *W = test_random_array((size_t)O * I, -1, 1, 2);
    float *b = test_random_array(O, -1, 1, 3), *dy = test_random_array((size_t)B * O, -1, 1, 4);
    float *y = malloc(sizeof(float) * B * O), *dx = malloc(sizeof(float) * B * I);
    float *dW = test_random_array((size_t)O * I, -1, 1, 5), *dbias = test_random_array(O, -1, 1, 6);
    float *dx_d = to_dev(cu, x, (size_t)B * I), *dW_d = to_dev(cu, W, (size_t)O * I), *db_d = to_dev(cu, b, O);
    float *ddy = to_dev(cu, dy, (size_t)B * O), *dy_out = nan_dev(cu, (size_t)B * O), *ddx = nan_dev(cu, (size_t)B * I);
    float *gW = to_dev(cu, dW, (size_t)O * I), *gb = to_dev(cu, dbias, O);
    cpu->linear_forward(y, x, W, b, B, I, O);
    cu->linear_forward(dy_out, dx_d, dW_d, db_d, B, I, O);
    expect_close(cu, dy_out, y, (size_t)B * O, 1e-4, "linear_forward");
    cpu->linear_backward(dx, dW, dbias, dy, x, W, B, I, O);
    cu->linear_backward(ddx, gW, gb, ddy, dx_d, dW_d, B, I, O);
    expect_close(cu, ddx, dx, (size_t)B * I, 1e-4, "linear_backward din");
    expect_close(cu, gW, dW, (size_t)O * I, 1e-4, "linear_backward dW (accumulated)");
    expect_close(cu, gb, dbias, O, 1e-4, "linear_backward db (accumulated)");
}

Test(parity, activations)
{
    const rldt_backend_t *cu = cuda_or_skip(), *cpu = rldt_backend_cpu();
    NEED(act_forward);
    NEED(act_backward);
    size_t n = 10007;
    float *x = test_random_array(n, -6, 6, 7), *g = test_random_array(n, -1, 1, 8), *y = malloc(sizeof(float) * n);
    float *dx = to_dev(cu, x, n), *dg = to_dev(cu, g, n), *dy = nan_dev(cu, n);
    for (int a = RLDT_ACT_IDENTITY; a <= RLDT_ACT_TANH; a++) {
        cpu->act_forward((rldt_act_t)a, y, x, n);
        cu->act_forward((rldt_act_t)a, dy, dx, n);
        expect_close(cu, dy, y, n, 1e-5, "act_forward");
        cpu->act_backward((rldt_act_t)a, y, g, x, n);
        cu->act_backward((rldt_act_t)a, dy, dg, dx, n);
        expect_close(cu, dy, y, n, 1e-5, "act_backward");
    }
}

Test(parity, layernorm_forward_backward)
{
    const rldt_backend_t *cu = cuda_or_skip(), *cpu = rldt_backend_cpu();
    NEED(layernorm_forward);
    NEED(layernorm_backward);
    int B = 33, C = 300;
    size_t n = (size_t)B * C;
    float *x = test_random_array(n, -2, 2, 9), *gm = test_random_array(C, 0.5f, 1.5f, 10);
    float *bt = test_random_array(C, -1, 1, 11), *dy = test_random_array(n, -1, 1, 12);
    float *y = malloc(sizeof(float) * n), mean[33], rstd[33], *dx = malloc(sizeof(float) * n);
    float dgm[300] = {0}, dbt[300] = {0};
    float *X = to_dev(cu, x, n), *GM = to_dev(cu, gm, C), *BT = to_dev(cu, bt, C), *DY = to_dev(cu, dy, n);
    float *Y = nan_dev(cu, n), *MEAN = nan_dev(cu, B), *RSTD = nan_dev(cu, B), *DX = nan_dev(cu, n);
    float *DGM = to_dev(cu, dgm, C), *DBT = to_dev(cu, dbt, C);
    cpu->layernorm_forward(y, mean, rstd, x, gm, bt, B, C);
    cu->layernorm_forward(Y, MEAN, RSTD, X, GM, BT, B, C);
    expect_close(cu, Y, y, n, 1e-4, "layernorm_forward");
    expect_close(cu, RSTD, rstd, B, 1e-4, "layernorm rstd");
    cpu->layernorm_backward(dx, dgm, dbt, dy, x, mean, rstd, gm, B, C);
    cu->layernorm_backward(DX, DGM, DBT, DY, X, MEAN, RSTD, GM, B, C);
    expect_close(cu, DX, dx, n, 1e-3, "layernorm_backward din");
    expect_close(cu, DGM, dgm, C, 1e-3, "layernorm_backward dgamma");
    expect_close(cu, DBT, dbt, C, 1e-3, "layernorm_backward dbeta");
}

Test(parity, axpy_fill_copy_cols_flow_pair)
{
    const rldt_backend_t *cu = cuda_or_skip(), *cpu = rldt_backend_cpu();
    NEED(axpy);
    NEED(fill);
    NEED(copy_cols);
    NEED(flow_pair);
    int B = 50, D = 12, W = 30;
    size_t n = (size_t)B * D;
    float *a = test_random_array(n, -1, 1, 21), *z = test_random_array(n, -1, 1, 22), *t = test_random_array(B, 0, 1, 23);
    float *xt = malloc(sizeof(float) * n), *tg = malloc(sizeof(float) * n), *wide = malloc(sizeof(float) * B * W);
    float *A = to_dev(cu, a, n), *Z = to_dev(cu, z, n), *T = to_dev(cu, t, B);
    float *XT = nan_dev(cu, n), *TG = nan_dev(cu, n), *WIDE = nan_dev(cu, (size_t)B * W);
    cpu->flow_pair(xt, tg, a, z, t, B, D);
    cu->flow_pair(XT, TG, A, Z, T, B, D);
    expect_close(cu, XT, xt, n, 1e-6, "flow_pair xt");
    expect_close(cu, TG, tg, n, 1e-6, "flow_pair target");
    cpu->fill(wide, 0.25f, (size_t)B * W);
    cu->fill(WIDE, 0.25f, (size_t)B * W);
    cpu->copy_cols(wide, W, 7, a, D, 0, D, B);
    cu->copy_cols(WIDE, W, 7, A, D, 0, D, B);
    expect_close(cu, WIDE, wide, (size_t)B * W, 0.0, "fill + copy_cols");
    cpu->axpy(a, -0.5f, z, n);
    cu->axpy(A, -0.5f, Z, n);
    expect_close(cu, A, a, n, 1e-6, "axpy");
    NEED(axpy_cols);
    NEED(minimum);
    cpu->axpy_cols(wide + 3, W, a, D, 0.75f, D, B);
    cu->axpy_cols(WIDE + 3, W, A, D, 0.75f, D, B);
    expect_close(cu, WIDE, wide, (size_t)B * W, 1e-6, "axpy_cols");
    cpu->minimum(a, z, n);
    cu->minimum(A, Z, n);
    expect_close(cu, A, a, n, 0.0, "minimum");
}

Test(parity, time_features_mse)
{
    const rldt_backend_t *cu = cuda_or_skip(), *cpu = rldt_backend_cpu();
    NEED(time_features);
    NEED(mse);
    size_t n = 5003;
    float *a = test_random_array(n, -1, 1, 13), *b = test_random_array(n, -1, 1, 14);
    float *A = to_dev(cu, a, n), *Bd = to_dev(cu, b, n), *G = nan_dev(cu, n), *g = malloc(sizeof(float) * n);
    double l_cpu = cpu->mse(a, b, g, n), l_cu = cu->mse(A, Bd, G, n);
    cr_assert_lt(test_rel_err(l_cu, l_cpu, 1e-9), 1e-5);
    expect_close(cu, G, g, n, 1e-5, "mse grad");
    float *t = test_random_array(64, 0, 1, 15), tf[64 * 16];
    float *T = to_dev(cu, t, 64), *TF = nan_dev(cu, 64 * 16);
    cpu->time_features(tf, t, 64, 16);
    cu->time_features(TF, T, 64, 16);
    expect_close(cu, TF, tf, 64 * 16, 1e-5, "time_features");
}
