/* test_parity_ops.c — the device backend's RNG, optimiser, elementwise and reduction ops against the CPU
 * backend (see parity.h). */
#include "parity.h"

/* An op the device backend does not have yet is skipped by name. */
#define NEED(op)                                                                                           \
    if (!cu->op) cr_skip_test("skipped: the device backend has no " #op " kernel yet")

Test(parity, fill_normal_and_uniform)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
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
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
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
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
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

Test(parity, axpy_fill_copy_cols_flow_pair)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
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
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
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
