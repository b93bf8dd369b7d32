/* test_policy.c — the flow-matching policy: velocity-field gradients by finite differences (through the
 * time embedding and the body), the Euler sampler and the expected target against direct formulas, the
 * flow-matching loss on a case with a known value, and the unit conversions. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "rldt/policy.h"

static rldt_policy_t make_policy(int obs_dim, int act_dim, int chunk, int K, int B, float **params)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.policy_chunk = chunk;
    cfg.policy_k = K;
    cfg.policy_width = 32;
    cfg.policy_blocks = 1;
    cfg.policy_layernorm = true;
    snprintf(cfg.policy_act, sizeof cfg.policy_act, "silu");
    rldt_policy_spec_t spec;
    cr_assert_eq(rldt_policy_spec_from_config(&cfg, obs_dim, act_dim, &spec), RLDT_OK);
    rldt_policy_t p;
    cr_assert_eq(rldt_policy_init(&p, &spec, B, rldt_backend_cpu()), RLDT_OK, "%s", rldt_error_message());
    *params = malloc(sizeof(float) * p.nparams);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 3, RLDT_STREAM_INIT);
    rldt_policy_init_params(&p, *params, &rng);
    return p;
}

Test(policy, velocity_gradients_match_finite_differences)
{
    int B = 3;
    float *P;
    rldt_policy_t p = make_policy(3, 2, 2, 4, B, &P);
    int D = p.spec.D;
    float *x = test_random_array((size_t)B * D, -1, 1, 1), *t = test_random_array(B, 0, 1, 2);
    float *obs = test_random_array((size_t)B * 3, -1, 1, 3), *r = test_random_array((size_t)B * D, -1, 1, 4);
    float *G = calloc(p.nparams, sizeof(float));
    rldt_policy_forward(&p, P, x, t, obs, B);
    rldt_policy_backward(&p, P, G, r);
    int bad = 0;
    for (size_t i = 0; i < p.nparams; i++) {
        float keep = P[i], h = 2e-3f;
        double l[2];
        for (int s = 0; s < 2; s++) {
            P[i] = keep + (s ? -h : h);
            const float *v = rldt_policy_forward(&p, P, x, t, obs, B);
            l[s] = 0;
            for (int j = 0; j < B * D; j++) l[s] += (double)v[j] * r[j];
        }
        P[i] = keep;
        double fd = (l[0] - l[1]) / (2 * h);
        if (fabs(G[i] - fd) > 2e-2 * fabs(fd) + 2e-3 && bad++ < 5) cr_log_error("param %zu: %g vs %g", i, G[i], fd);
    }
    cr_assert_eq(bad, 0, "%d of %zu parameter gradients off (time MLP params: first %zu)", bad, p.nparams, p.body_offset);
    rldt_policy_free(&p);
    free(P), free(x), free(t), free(obs), free(r), free(G);
}

Test(policy, euler_sampler_and_expected_target_follow_the_formulas)
{
    int B = 4, K = 5;
    float *P;
    rldt_policy_t p = make_policy(2, 1, 3, K, B, &P);
    int D = p.spec.D;
    size_t n = (size_t)B * D;
    float *obs = test_random_array((size_t)B * 2, -1, 1, 5), *x0 = test_random_array(n, -1, 1, 6);
    float *x = malloc(sizeof(float) * n), *chain = malloc(sizeof(float) * n * (K + 1)), *ref = malloc(sizeof(float) * n);
    float *t = malloc(sizeof(float) * B), *at = malloc(sizeof(float) * n);
    memcpy(x, x0, sizeof(float) * n);
    memcpy(ref, x0, sizeof(float) * n);
    rldt_policy_sample(&p, P, obs, B, x, chain);
    for (int k = 0; k < K; k++) {
        for (size_t i = 0; i < n; i++) cr_assert_float_eq(chain[k * n + i], ref[i], 1e-5, "chain step %d", k);
        /* the expected target from step k: x_k + (1 - t_k) v(x_k, t_k) */
        rldt_policy_expected_target(&p, P, chain + k * n, k, obs, B, at);
        for (int b = 0; b < B; b++) t[b] = (float)k / K;
        const float *v = rldt_policy_forward(&p, P, ref, t, obs, B);
        for (size_t i = 0; i < n; i++) {
            cr_assert_float_eq(at[i], ref[i] + (1.0f - (float)k / K) * v[i], 1e-5);
            ref[i] += v[i] / K;
        }
    }
    for (size_t i = 0; i < n; i++) {
        cr_assert_float_eq(x[i], ref[i], 1e-5);
        cr_assert_eq(chain[K * n + i], x[i]);
    }
    /* from the last step the expected target is the final action up to one Euler step: a†_{K-1} = x_K */
    rldt_policy_expected_target(&p, P, chain + (K - 1) * n, K - 1, obs, B, at);
    for (size_t i = 0; i < n; i++) cr_assert_float_eq(at[i], x[i], 1e-5);
    /* sampling in place in the chain (x = chain, as fine-tuning does) keeps x_0 in slot 0 and gives the same
     * slots as above (slot 0 once held x_K, so step-0 particles were trained at the final action) */
    float *inplace = malloc(sizeof(float) * n * (K + 1));
    memcpy(inplace, x0, sizeof(float) * n);
    rldt_policy_sample(&p, P, obs, B, inplace, inplace);
    for (size_t i = 0; i < n * (K + 1); i++) cr_assert_eq(inplace[i], chain[i], "slot %zu", i / n);
    free(inplace);
    rldt_policy_free(&p);
    free(P), free(obs), free(x0), free(x), free(chain), free(ref), free(t), free(at);
}

Test(policy, flow_matching_loss_known_case)
{
    /* with every parameter zero the velocity is 0, so the loss is mean((a - z)^2) */
    int B = 6;
    float *P;
    rldt_policy_t p = make_policy(2, 2, 2, 4, B, &P);
    const rldt_backend_t *be = p.be;
    memset(P, 0, sizeof(float) * p.nparams);
    int D = p.spec.D;
    size_t n = (size_t)B * D;
    float *a = test_random_array(n, -1, 1, 7), *z = test_random_array(n, -2, 2, 8), *t = test_random_array(B, 0, 1, 9);
    float *obs = test_random_array((size_t)B * 2, -1, 1, 10);
    float *xt = malloc(sizeof(float) * n), *target = malloc(sizeof(float) * n);
    be->flow_pair(xt, target, a, z, t, B, D);
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)b * D + d;
            cr_assert_float_eq(xt[i], (1 - t[b]) * z[i] + t[b] * a[i], 1e-6);
        }
    double loss = be->mse(rldt_policy_forward(&p, P, xt, t, obs, B), target, NULL, n), ref = 0;
    for (size_t i = 0; i < n; i++) ref += (double)(a[i] - z[i]) * (a[i] - z[i]);
    cr_assert_float_eq(loss, ref / n, 1e-5);
    rldt_policy_free(&p);
    free(P), free(a), free(z), free(t), free(obs), free(xt), free(target);
}

Test(policy, unit_conversions_round_trip_and_clip)
{
    float *P;
    rldt_policy_t p = make_policy(2, 2, 1, 2, 1, &P);
    float mean[2] = {1, -1}, std[2] = {2, 0}, lo[2] = {-2, 0}, hi[2] = {2, 1};
    rldt_policy_set_normalizers(&p, mean, std, lo, hi);
    float raw[2] = {3, -1}, o[2];
    rldt_policy_observe(&p, raw, o, 1);
    cr_assert_float_eq(o[0], 1.0f, 1e-7);
    cr_assert_float_eq(o[1], 0.0f, 1e-7); /* zero std floored, constant feature maps to 0 */
    float act[4] = {-2, 0.25f, 1, 1}, norm[4], back[4];
    rldt_policy_normalize_actions(&p, act, norm, 2);
    cr_assert_float_eq(norm[0], -1.0f, 1e-7);
    cr_assert_float_eq(norm[1], -0.5f, 1e-7);
    rldt_policy_act(&p, norm, back, 2);
    for (int i = 0; i < 4; i++) cr_assert_float_eq(back[i], act[i], 1e-6);
    float wild[2] = {5, -7};
    rldt_policy_act(&p, wild, back, 1);
    cr_assert_eq(back[0], 2.0f);
    cr_assert_eq(back[1], 0.0f);
    rldt_policy_free(&p);
    free(P);
}
