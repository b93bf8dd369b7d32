/* test_parity_nn.c — the device backend's neural-network ops (linear, activations, LayerNorm) against the
 * CPU backend (see parity.h). */
#include "parity.h"

/* An op the device backend does not have yet is skipped by name. */
#define NEED(op)                                                                                           \
    if (!cu->op) cr_skip_test("skipped: the device backend has no " #op " kernel yet")

/* The fused linear op, forward and backward, without and with residual + activation; bound 1e-4 (fp32
 * GEMMs of width <= 45 in another summation order). */
Test(parity, linear_forward_backward)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    NEED(linear_forward);
    NEED(linear_backward);
    int B = 37, I = 45, O = 29;
    size_t nb = (size_t)B * O;
    for (int a = RLDT_ACT_IDENTITY; a <= RLDT_ACT_TANH; a++) {
        rldt_act_t act = (rldt_act_t)a;
        int fused = act != RLDT_ACT_IDENTITY;
        float *x = test_random_array((size_t)B * I, -1, 1, 1), *W = test_random_array((size_t)O * I, -1, 1, 2);
        float *b = test_random_array(O, -1, 1, 3), *dy = test_random_array(nb, -1, 1, 4);
        float *res = test_random_array(nb, -1, 1, 7), *dres = test_random_array(nb, -1, 1, 8);
        float *pre = malloc(sizeof(float) * nb), *post = malloc(sizeof(float) * nb), *dx = malloc(sizeof(float) * B * I);
        float *dpre = malloc(sizeof(float) * nb);
        float *dW = test_random_array((size_t)O * I, -1, 1, 5), *dbias = test_random_array(O, -1, 1, 6);
        float *X = to_dev(cu, x, (size_t)B * I), *Wd = to_dev(cu, W, (size_t)O * I), *Bd = to_dev(cu, b, O);
        float *DY = to_dev(cu, dy, nb), *RES = to_dev(cu, res, nb), *DRES = to_dev(cu, dres, nb);
        float *PRE = nan_dev(cu, nb), *POST = nan_dev(cu, nb), *DX = nan_dev(cu, (size_t)B * I), *DPRE = nan_dev(cu, nb);
        float *GW = to_dev(cu, dW, (size_t)O * I), *GB = to_dev(cu, dbias, O);
        cpu->linear_forward(pre, fused ? post : NULL, x, W, b, fused ? res : NULL, act, B, I, O);
        cu->linear_forward(PRE, fused ? POST : NULL, X, Wd, Bd, fused ? RES : NULL, act, B, I, O);
        expect_close(cu, PRE, pre, nb, 1e-4, "linear_forward pre");
        if (fused) expect_close(cu, POST, post, nb, 1e-4, "linear_forward post");
        cpu->linear_backward(dx, dW, dbias, dpre, dy, fused ? dres : NULL, pre, act, x, W, B, I, O);
        cu->linear_backward(DX, GW, GB, DPRE, DY, fused ? DRES : NULL, PRE, act, X, Wd, B, I, O);
        expect_close(cu, DPRE, dpre, nb, 1e-4, "linear_backward dpre");
        expect_close(cu, DX, dx, (size_t)B * I, 1e-4, "linear_backward din");
        expect_close(cu, GW, dW, (size_t)O * I, 1e-4, "linear_backward dW (accumulated)");
        expect_close(cu, GB, dbias, O, 1e-4, "linear_backward db (accumulated)");
        float *devs[] = {X, Wd, Bd, DY, RES, DRES, PRE, POST, DX, DPRE, GW, GB};
        for (size_t k = 0; k < sizeof devs / sizeof devs[0]; k++) cu->free(devs[k]);
        free(x), free(W), free(b), free(dy), free(res), free(dres), free(pre), free(post), free(dx), free(dpre);
        free(dW), free(dbias);
    }
}

Test(parity, activations)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
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
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
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

