/* test_parity_nn.c — the device backend's neural-network ops (linear, activations, LayerNorm) against the
 * CPU backend (see parity.h). */
#include "parity.h"

/* An op the device backend does not have yet is skipped by name. */
#define NEED(op)                                                                                           \
    if (!cu->op) cr_skip_test("skipped: the device backend has no " #op " kernel yet")

Test(parity, linear_forward_backward)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
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

