/* test_nn.c — the neural-network core on the CPU backend: every backward pass against central finite
 * differences (computed in double from float forwards with a wide step), the per-element math against
 * closed forms, and an MLP fitting a smooth function. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "rldt/backend.h"
#include "rldt/nn.h"

/* Loss L = sum_i r_i * out_i for fixed random r: dL/dout = r. */
static double weighted_sum(const float *out, const float *r, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)out[i] * (double)r[i];
    return s;
}

// ---------------------------------------------------------------------------------------------------
// single ops

Test(nn, activation_derivatives_match_finite_differences)
{
    for (int a = RLDT_ACT_IDENTITY; a <= RLDT_ACT_TANH; a++)
        for (float x = -4.0f; x <= 4.0f; x += 0.37f) {
            double h = 1e-3;
            double fd = ((double)rldt_act_f((rldt_act_t)a, (float)(x + h)) - rldt_act_f((rldt_act_t)a, (float)(x - h))) / (2 * h);
            cr_assert_lt(test_rel_err(rldt_act_df((rldt_act_t)a, x), fd, 1e-2), 2e-3, "act %d at x=%g", a, x);
        }
}

Test(nn, activation_closed_forms)
{
    cr_assert_float_eq(rldt_act_f(RLDT_ACT_SILU, 1.0f), 1.0f / (1.0f + expf(-1.0f)), 1e-6);
    cr_assert_float_eq(rldt_act_f(RLDT_ACT_MISH, 1.0f), tanhf(logf(1.0f + expf(1.0f))), 1e-6);
    cr_assert_float_eq(rldt_act_f(RLDT_ACT_MISH, -30.0f), 0.0f, 1e-6);
    cr_assert_float_eq(rldt_act_f(RLDT_ACT_MISH, 30.0f), 30.0f, 1e-5);
    cr_assert(isfinite(rldt_act_df(RLDT_ACT_MISH, 100.0f)) && isfinite(rldt_act_df(RLDT_ACT_SILU, -100.0f)));
    cr_assert_eq(rldt_act_f(RLDT_ACT_RELU, -0.5f), 0.0f);
    cr_assert_eq(rldt_act_parse("mish"), RLDT_ACT_MISH);
    cr_assert_eq(rldt_act_parse("gelu"), -1);
}

/* The fused linear op, plain and with a residual input and a SiLU epilogue: loss = sum(post * r). */
Test(nn, linear_backward_matches_finite_differences)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    int B = 5, I = 7, O = 3;
    for (int fused = 0; fused < 2; fused++) {
        rldt_act_t act = fused ? RLDT_ACT_SILU : RLDT_ACT_IDENTITY;
        float *x = test_random_array((size_t)B * I, -1, 1, 1), *W = test_random_array((size_t)O * I, -1, 1, 2);
        float *b = test_random_array(O, -1, 1, 3), *r = test_random_array((size_t)B * O, -1, 1, 4);
        float *res = fused ? test_random_array((size_t)B * O, -1, 1, 5) : NULL;
        float pre[15], post[15], dx[35], dW[21] = {0}, db[3] = {0}, dpre[15], dres[15];
        be->linear_forward(pre, fused ? post : NULL, x, W, b, res, act, B, I, O);
        be->linear_backward(dx, dW, db, dpre, r, NULL, pre, act, x, W, B, I, O);
        if (fused) memcpy(dres, dpre, sizeof dres); /* d loss / d res = d loss / d pre */
        float *params[4] = {x, W, b, res};
        float *grads[4] = {dx, dW, db, dres};
        size_t sizes[4] = {(size_t)B * I, (size_t)O * I, (size_t)O, (size_t)B * O};
        for (int p = 0; p < 3 + fused; p++)
            for (size_t i = 0; i < sizes[p]; i++) {
                float keep = params[p][i];
                double l[2];
                for (int s = 0; s < 2; s++) {
                    params[p][i] = keep + (s ? -1e-2f : 1e-2f);
                    be->linear_forward(pre, fused ? post : NULL, x, W, b, res, act, B, I, O);
                    l[s] = weighted_sum(fused ? post : pre, r, 15);
                }
                params[p][i] = keep;
                double fd = (l[0] - l[1]) / 2e-2;
                cr_assert_lt(test_rel_err(grads[p][i], fd, 1e-2), 2e-3, "act %d tensor %d elem %zu: %g vs %g", fused, p,
                             i, grads[p][i], fd);
            }
        free(x), free(W), free(b), free(r), free(res);
    }
}

/* dres is added to the gradient at the pre-activation; dpre may alias dpost when there is no activation. */
Test(nn, linear_backward_adds_dres_and_runs_in_place)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    int B = 3, I = 4, O = 5;
    float *x = test_random_array((size_t)B * I, -1, 1, 6), *W = test_random_array((size_t)O * I, -1, 1, 7);
    float *g = test_random_array((size_t)B * O, -1, 1, 8), *dres = test_random_array((size_t)B * O, -1, 1, 9);
    float pre[15] = {0}, dpre[15], dx1[12], dx2[12], g2[15];
    be->linear_backward(dx1, NULL, NULL, dpre, g, dres, pre, RLDT_ACT_IDENTITY, x, W, B, I, O);
    for (int i = 0; i < 15; i++) {
        cr_assert_float_eq(dpre[i], g[i] + dres[i], 1e-6);
        g2[i] = g[i] + dres[i];
    }
    memcpy(dpre, g, sizeof dpre);
    be->linear_backward(dx2, NULL, NULL, dpre, dpre, dres, pre, RLDT_ACT_IDENTITY, x, W, B, I, O);
    for (int i = 0; i < 15; i++) cr_assert_float_eq(dpre[i], g2[i], 1e-6);
    for (int i = 0; i < 12; i++) cr_assert_float_eq(dx1[i], dx2[i], 1e-6);
    free(x), free(W), free(g), free(dres);
}

Test(nn, layernorm_backward_matches_finite_differences)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    int B = 4, C = 9;
    float *x = test_random_array((size_t)B * C, -2, 2, 5), *g = test_random_array(C, 0.5f, 1.5f, 6);
    float *bt = test_random_array(C, -1, 1, 7), *r = test_random_array((size_t)B * C, -1, 1, 8);
    float out[36], mean[4], rstd[4], dx[36], dg[9] = {0}, dbt[9] = {0};
    be->layernorm_forward(out, mean, rstd, x, g, bt, B, C);
    for (int row = 0; row < B; row++) { /* normalised rows: mean beta-weighted check via gamma=1 form */
        double m = 0;
        for (int c = 0; c < C; c++) m += x[row * C + c];
        cr_assert_float_eq(mean[row], m / C, 1e-5);
    }
    be->layernorm_backward(dx, dg, dbt, r, x, mean, rstd, g, B, C);
    float *params[3] = {x, g, bt};
    float *grads[3] = {dx, dg, dbt};
    size_t sizes[3] = {(size_t)B * C, (size_t)C, (size_t)C};
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < sizes[p]; i++) {
            float keep = params[p][i];
            params[p][i] = keep + 1e-2f;
            be->layernorm_forward(out, mean, rstd, x, g, bt, B, C);
            double lp = weighted_sum(out, r, 36);
            params[p][i] = keep - 1e-2f;
            be->layernorm_forward(out, mean, rstd, x, g, bt, B, C);
            double lm = weighted_sum(out, r, 36);
            params[p][i] = keep;
            double fd = (lp - lm) / 2e-2;
            cr_assert_lt(test_rel_err(grads[p][i], fd, 5e-2), 1e-2, "tensor %d elem %zu: %g vs %g", p, i, grads[p][i], fd);
        }
    free(x), free(g), free(bt), free(r);
}

Test(nn, mse_value_and_gradient)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    float pred[4] = {1, 2, 3, 4}, target[4] = {0, 2, 5, 3}, grad[4];
    double loss = be->mse(pred, target, grad, 4);
    cr_assert_float_eq(loss, (1.0 + 0.0 + 4.0 + 1.0) / 4.0, 1e-12);
    float expect[4] = {0.5f, 0.0f, -1.0f, 0.5f};
    for (int i = 0; i < 4; i++) cr_assert_float_eq(grad[i], expect[i], 1e-7);
}

Test(nn, time_features_closed_form)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    float t[2] = {0.0f, 0.75f}, out[32];
    be->time_features(out, t, 2, 16);
    for (int j = 0; j < 8; j++) {
        double f = exp(-log(10000.0) * j / 7.0);
        cr_assert_float_eq(out[j], 0.0f, 1e-7);          /* sin(0) */
        cr_assert_float_eq(out[8 + j], 1.0f, 1e-7);      /* cos(0) */
        cr_assert_float_eq(out[16 + j], sin(0.75 * f), 1e-6);
        cr_assert_float_eq(out[24 + j], cos(0.75 * f), 1e-6);
    }
}

// ---------------------------------------------------------------------------------------------------
// whole networks

/* Checks every parameter gradient and every input gradient of `spec` against central differences. */
static void check_mlp_gradients(rldt_mlp_spec_t spec, int B, uint64_t seed)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    rldt_mlp_t m;
    cr_assert_eq(rldt_mlp_init(&m, &spec, B, be), RLDT_OK, "%s", rldt_error_message());
    size_t np = m.nparams;
    float *P = malloc(sizeof(float) * np), *G = calloc(np, sizeof(float));
    rldt_rng_t rng;
    rldt_rng_init(&rng, seed, RLDT_STREAM_INIT);
    rldt_mlp_init_params(&m, P, &rng);
    if (spec.layernorm) /* move gamma/beta off 1/0 so their gradients are exercised generically */
        for (size_t i = 0; i < np; i++) P[i] += 0.05f * rldt_rng_normal(&rng);
    float *x = test_random_array((size_t)B * spec.in, -1, 1, seed + 10);
    float *r = test_random_array((size_t)B * spec.out, -1, 1, seed + 11);
    float *dx = malloc(sizeof(float) * (size_t)B * spec.in);
    rldt_mlp_forward(&m, P, x, B);
    rldt_mlp_backward(&m, P, G, r, dx);
    size_t no = (size_t)B * spec.out;
    float *tensors[2] = {P, x};
    float *grads[2] = {G, dx};
    size_t sizes[2] = {np, (size_t)B * spec.in};
    int bad = 0;
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < sizes[t]; i++) {
            float keep = tensors[t][i];
            float h = 2e-3f;
            tensors[t][i] = keep + h;
            double lp = weighted_sum(rldt_mlp_forward(&m, P, x, B), r, no);
            tensors[t][i] = keep - h;
            double lm = weighted_sum(rldt_mlp_forward(&m, P, x, B), r, no);
            tensors[t][i] = keep;
            double l0 = weighted_sum(rldt_mlp_forward(&m, P, x, B), r, no);
            double fd = (lp - lm) / (2.0 * h);
            double err = fabs(grads[t][i] - fd);
            /* A ReLU net is piecewise linear in each parameter: when the probe crosses a kink on one side,
             * the one-sided difference on the other side is still exact. */
            if (spec.act == RLDT_ACT_RELU)
                err = fmin(err, fmin(fabs(grads[t][i] - (lp - l0) / h), fabs(grads[t][i] - (l0 - lm) / h)));
            /* float forwards: absolute error of the difference quotient ~ eps * |L| / h */
            if (err > 2e-2 * fabs(fd) + 3e-3) {
                if (bad++ < 5) cr_log_error("tensor %d elem %zu: backprop %g vs finite diff %g", t, i, grads[t][i], fd);
            }
        }
    cr_assert_eq(bad, 0, "%d of %zu gradients disagree with finite differences", bad, np + sizes[1]);
    rldt_mlp_free(&m);
    free(P), free(G), free(x), free(r), free(dx);
}

Test(nn, plain_mlp_silu_gradients) { check_mlp_gradients((rldt_mlp_spec_t){6, 1, 16, 3, false, RLDT_ACT_SILU, false, RLDT_INIT_NORMAL01}, 5, 1); }
Test(nn, plain_mlp_mish_gradients) { check_mlp_gradients((rldt_mlp_spec_t){16, 16, 32, 1, false, RLDT_ACT_MISH, false, RLDT_INIT_TORCH}, 4, 2); }
Test(nn, residual_mlp_relu_gradients) { check_mlp_gradients((rldt_mlp_spec_t){9, 4, 24, 2, true, RLDT_ACT_RELU, false, RLDT_INIT_TORCH}, 6, 3); }
Test(nn, residual_mlp_layernorm_tanh_gradients) { check_mlp_gradients((rldt_mlp_spec_t){5, 3, 12, 2, true, RLDT_ACT_TANH, true, RLDT_INIT_TORCH}, 3, 4); }
Test(nn, plain_mlp_layernorm_silu_gradients) { check_mlp_gradients((rldt_mlp_spec_t){4, 2, 10, 2, false, RLDT_ACT_SILU, true, RLDT_INIT_TORCH}, 7, 5); }
Test(nn, residual_mlp_zero_blocks_gradients) { check_mlp_gradients((rldt_mlp_spec_t){3, 2, 8, 0, true, RLDT_ACT_RELU, false, RLDT_INIT_TORCH}, 2, 6); }

Test(nn, param_counts_and_program_shape)
{
    /* the RLDT Gym critic: [obs 17 + chunk 4 x act 6] -> 256-256-256 -> 1 */
    rldt_mlp_spec_t critic = {41, 1, 256, 3, false, RLDT_ACT_SILU, false, RLDT_INIT_NORMAL01};
    cr_assert_eq(rldt_mlp_param_count(&critic), (size_t)(41 * 256 + 256) + 2 * (256 * 256 + 256) + (256 + 1));
    /* the policy body: Linear(in, 512), one block of two 512x512 layers, Linear(512, D) */
    rldt_mlp_spec_t body = {57, 24, 512, 1, true, RLDT_ACT_RELU, true, RLDT_INIT_TORCH};
    cr_assert_eq(rldt_mlp_param_count(&body),
                 (size_t)(57 * 512 + 512) + 2 * (512 * 512 + 512) + 2 * (2 * 512) + (512 * 24 + 24));
    rldt_mlp_t m;
    cr_assert_eq(rldt_mlp_init(&m, &body, 8, rldt_backend_cpu()), RLDT_OK);
    /* LINEAR, [LN ACT LINEAR LN ACT LINEAR(+h)], LINEAR */
    rldt_op_kind_t expect[] = {RLDT_OP_LINEAR, RLDT_OP_LAYERNORM, RLDT_OP_ACT, RLDT_OP_LINEAR, RLDT_OP_LAYERNORM,
                               RLDT_OP_ACT, RLDT_OP_LINEAR, RLDT_OP_LINEAR};
    cr_assert_eq(m.nops, 8);
    for (int i = 0; i < 8; i++) cr_assert_eq(m.ops[i].kind, expect[i]);
    cr_assert_eq(m.ops[6].res, 0);
    rldt_mlp_free(&m);
    /* without LayerNorm: LINEAR+act, [LINEAR+act, LINEAR(+h)+act] x 2 minus the last act, LINEAR */
    body.layernorm = false;
    body.depth = 2;
    cr_assert_eq(rldt_mlp_init(&m, &body, 8, rldt_backend_cpu()), RLDT_OK);
    cr_assert_eq(m.nops, 6);
    rldt_act_t fused[] = {RLDT_ACT_RELU, RLDT_ACT_RELU, RLDT_ACT_RELU, RLDT_ACT_RELU, RLDT_ACT_IDENTITY, RLDT_ACT_IDENTITY};
    int res[] = {-1, -1, 0, -1, 2, -1};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(m.ops[i].kind, RLDT_OP_LINEAR);
        cr_assert_eq(m.ops[i].fused, fused[i], "op %d", i);
        cr_assert_eq(m.ops[i].res, res[i], "op %d", i);
    }
    rldt_mlp_free(&m);
}

Test(nn, bad_specs_are_rejected_with_a_message)
{
    rldt_mlp_t m;
    rldt_mlp_spec_t s = {0, 1, 8, 1, false, RLDT_ACT_RELU, false, RLDT_INIT_TORCH};
    cr_assert_eq(rldt_mlp_init(&m, &s, 4, rldt_backend_cpu()), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "input width"));
    s.in = 3;
    s.depth = 0;
    cr_assert_eq(rldt_mlp_init(&m, &s, 4, rldt_backend_cpu()), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "depth"));
}

Test(nn, torch_init_bounds_and_critic_init_statistics)
{
    rldt_mlp_spec_t s = {64, 1, 256, 1, false, RLDT_ACT_SILU, false, RLDT_INIT_NORMAL01};
    rldt_mlp_t m;
    cr_assert_eq(rldt_mlp_init(&m, &s, 1, rldt_backend_cpu()), RLDT_OK);
    float *P = malloc(sizeof(float) * m.nparams);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 3, RLDT_STREAM_INIT);
    rldt_mlp_init_params(&m, P, &rng);
    double ss = 0;
    for (int i = 0; i < 64 * 256; i++) ss += (double)P[i] * P[i];
    cr_assert_lt(fabs(sqrt(ss / (64 * 256)) - 0.1), 0.003);         /* W ~ N(0, 0.1^2) */
    for (int i = 0; i < 256; i++) cr_assert_eq(P[64 * 256 + i], 0.0f); /* b = 0 */
    rldt_mlp_free(&m);
    s.init = RLDT_INIT_TORCH;
    cr_assert_eq(rldt_mlp_init(&m, &s, 1, rldt_backend_cpu()), RLDT_OK);
    rldt_mlp_init_params(&m, P, &rng);
    float mx = 0;
    for (int i = 0; i < 64 * 256 + 256; i++) mx = fmaxf(mx, fabsf(P[i]));
    cr_assert(mx <= 0.125f && mx > 0.12f, "max |w| %g, bound 1/sqrt(64)", mx);
    rldt_mlp_free(&m);
    free(P);
}
