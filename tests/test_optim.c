/* test_optim.c — Adam/AdamW against a double-precision reference written out here, learning-rate
 * schedules, global-norm clipping, EMA/Polyak averaging, and an MLP trained with Adam fitting a smooth
 * function to a stated loss. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "rldt/backend.h"
#include "rldt/nn.h"
#include "rldt/optim.h"

/* Adam written from the paper, in double: returns nothing, updates p, m, v in place. */
static void adam_reference(double *p, double *m, double *v, const double *g, int n, int t, double lr, double b1,
                           double b2, double eps, double wd, int decoupled)
{
    for (int i = 0; i < n; i++) {
        double gi = g[i] + (decoupled ? 0.0 : wd * p[i]);
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        double mh = m[i] / (1 - pow(b1, t)), vh = v[i] / (1 - pow(b2, t));
        p[i] -= lr * (mh / (sqrt(vh) + eps) + (decoupled ? wd * p[i] : 0.0));
    }
}

static void check_adam(int decoupled, float wd)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    enum { N = 33, STEPS = 25 };
    rldt_adam_t o = rldt_adam_default();
    o.weight_decay = wd;
    o.decoupled = decoupled;
    float *p = test_random_array(N, -1, 1, 20), m[N] = {0}, v[N] = {0};
    double pd[N], md[N] = {0}, vd[N] = {0}, gd[N];
    for (int i = 0; i < N; i++) pd[i] = p[i];
    for (int t = 1; t <= STEPS; t++) {
        float *g = test_random_array(N, -2, 2, 100 + (uint64_t)t);
        for (int i = 0; i < N; i++) gd[i] = g[i];
        be->adam_step(&o, 1e-2f, t, p, g, m, v, N);
        adam_reference(pd, md, vd, gd, N, t, 1e-2, 0.9, 0.999, 1e-8, wd, decoupled);
        free(g);
    }
    for (int i = 0; i < N; i++) cr_assert_lt(test_rel_err(p[i], pd[i], 1e-3), 1e-4, "param %d: %g vs %g", i, p[i], pd[i]);
    free(p);
}

Test(optim, adam_matches_reference) { check_adam(0, 0.0f); }
Test(optim, adam_l2_weight_decay_matches_reference) { check_adam(0, 0.1f); }
Test(optim, adamw_decoupled_weight_decay_matches_reference) { check_adam(1, 0.1f); }

Test(optim, adam_first_step_moves_by_lr_times_sign)
{
    /* at t = 1 with bias correction, mhat / sqrt(vhat) = g / |g|: every parameter moves by lr */
    const rldt_backend_t *be = rldt_backend_cpu();
    rldt_adam_t o = rldt_adam_default();
    float p[3] = {0, 0, 0}, g[3] = {3.0f, -0.01f, 250.0f}, m[3] = {0}, v[3] = {0};
    be->adam_step(&o, 0.5f, 1, p, g, m, v, 3);
    cr_assert_float_eq(p[0], -0.5f, 1e-5);
    cr_assert_float_eq(p[1], 0.5f, 1e-4);
    cr_assert_float_eq(p[2], -0.5f, 1e-5);
}

Test(optim, warmup_and_cosine_schedule)
{
    rldt_sched_t s = {RLDT_SCHED_COSINE, 1e-3f, 1e-4f, 10, 110};
    cr_assert_float_eq(rldt_sched_lr(&s, 0), 1e-4f, 1e-9);   /* lr * 1/10 */
    cr_assert_float_eq(rldt_sched_lr(&s, 9), 1e-3f, 1e-9);   /* end of warm-up */
    cr_assert_float_eq(rldt_sched_lr(&s, 10), 1e-3f, 1e-9);  /* start of cosine */
    cr_assert_float_eq(rldt_sched_lr(&s, 60), 5.5e-4f, 1e-8); /* half way: mean of the ends */
    cr_assert_float_eq(rldt_sched_lr(&s, 110), 1e-4f, 1e-9);
    cr_assert_float_eq(rldt_sched_lr(&s, 5000), 1e-4f, 1e-9);
    for (long t = 11; t < 110; t++) cr_assert_leq(rldt_sched_lr(&s, t), rldt_sched_lr(&s, t - 1));
    rldt_sched_t c = {RLDT_SCHED_CONSTANT, 2e-5f, 0, 32, 0};
    cr_assert_float_eq(rldt_sched_lr(&c, 15), 2e-5f * 16 / 32, 1e-12);
    cr_assert_float_eq(rldt_sched_lr(&c, 1000), 2e-5f, 1e-12);
}

Test(optim, global_norm_clipping)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    float g[4] = {3, 4, 0, 0}; /* norm 5 */
    float n = rldt_clip_global_norm(be, g, 4, 1.0f);
    cr_assert_float_eq(n, 5.0f, 1e-6);
    cr_assert_float_eq(sqrt(be->sumsq(g, 4)), 1.0, 1e-5);
    cr_assert_float_eq(g[0] / g[1], 0.75f, 1e-6); /* direction kept */
    float h[2] = {0.3f, 0.4f};
    rldt_clip_global_norm(be, h, 2, 1.0f); /* under the limit: untouched */
    cr_assert_eq(h[0], 0.3f);
    cr_assert_eq(h[1], 0.4f);
    float k[2] = {30, 40};
    rldt_clip_global_norm(be, k, 2, 0.0f); /* 0 disables */
    cr_assert_eq(k[0], 30.0f);
}

Test(optim, ema_and_polyak_are_lerps)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    float ema[2] = {1.0f, -2.0f}, p[2] = {3.0f, 2.0f};
    be->lerp(ema, p, 1.0f - 0.995f, 2); /* EMA decay 0.995 */
    cr_assert_float_eq(ema[0], 0.995f * 1.0f + 0.005f * 3.0f, 1e-6);
    cr_assert_float_eq(ema[1], 0.995f * -2.0f + 0.005f * 2.0f, 1e-6);
    float target = 0.0f, online = 1.0f; /* Polyak tau 0.005 applied 1000 times: 1 - 0.995^1000 */
    for (int i = 0; i < 1000; i++) be->lerp(&target, &online, 0.005f, 1);
    cr_assert_float_eq(target, 1.0 - pow(0.995, 1000), 1e-4);
}

/* A residual MLP trained with Adam on y = sin(2 x0) cos(x1) + 0.5 x0 x1 over [-1,1]^2 reaches a held-out
 * MSE below 2e-3 (the target's variance is ~0.27) in 1500 steps of 128 samples. */
Test(optim, mlp_fits_a_smooth_function)
{
    const rldt_backend_t *be = rldt_backend_cpu();
    rldt_mlp_spec_t spec = {2, 1, 64, 2, true, RLDT_ACT_SILU, false, RLDT_INIT_TORCH};
    enum { B = 128, STEPS = 1500, NTEST = 512 };
    rldt_mlp_t m;
    cr_assert_eq(rldt_mlp_init(&m, &spec, NTEST, be), RLDT_OK);
    size_t np = m.nparams;
    float *P = malloc(sizeof(float) * np), *G = malloc(sizeof(float) * np);
    float *M = calloc(np, sizeof(float)), *V = calloc(np, sizeof(float));
    rldt_rng_t rng;
    rldt_rng_init(&rng, 5, RLDT_STREAM_INIT);
    rldt_mlp_init_params(&m, P, &rng);
    rldt_adam_t o = rldt_adam_default();
    rldt_sched_t sched = {RLDT_SCHED_COSINE, 3e-3f, 3e-4f, 50, STEPS};
    float x[2 * NTEST], y[NTEST], grad[NTEST];
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < B; i++) {
            x[2 * i] = 2 * rldt_rng_uniform(&rng) - 1;
            x[2 * i + 1] = 2 * rldt_rng_uniform(&rng) - 1;
            y[i] = sinf(2 * x[2 * i]) * cosf(x[2 * i + 1]) + 0.5f * x[2 * i] * x[2 * i + 1];
        }
        const float *out = rldt_mlp_forward(&m, P, x, B);
        be->mse(out, y, grad, B);
        memset(G, 0, sizeof(float) * np);
        rldt_mlp_backward(&m, P, G, grad, NULL);
        be->adam_step(&o, rldt_sched_lr(&sched, step), step + 1, P, G, M, V, np);
    }
    for (int i = 0; i < NTEST; i++) {
        x[2 * i] = 2 * rldt_rng_uniform(&rng) - 1;
        x[2 * i + 1] = 2 * rldt_rng_uniform(&rng) - 1;
        y[i] = sinf(2 * x[2 * i]) * cosf(x[2 * i + 1]) + 0.5f * x[2 * i] * x[2 * i + 1];
    }
    double test_mse = be->mse(rldt_mlp_forward(&m, P, x, NTEST), y, NULL, NTEST);
    cr_log_info("held-out MSE %.2e", test_mse);
    cr_assert_lt(test_mse, 2e-3, "held-out MSE %g", test_mse);
    rldt_mlp_free(&m);
    free(P), free(G), free(M), free(V);
}
