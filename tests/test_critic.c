/* test_critic.c — the Q ensemble: action gradients and loss gradients by finite differences, the
 * min-over-members bootstrap, Polyak targets, and member separation in the shared gradient buffer. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "rldt/critic.h"

static rldt_critic_t make_critic(int od, int D, int B)
{
    rldt_critic_t c;
    rldt_rng_t rng;
    rldt_rng_init(&rng, 4, RLDT_STREAM_INIT);
    cr_assert_eq(rldt_critic_init(&c, od, D, 16, 2, 2, B, rldt_backend_cpu(), &rng), RLDT_OK, "%s", rldt_error_message());
    return c;
}

static double q_mean(rldt_critic_t *c, const float *obs, const float *act, int B, const float *w)
{
    double s = 0;
    for (int m = 0; m < c->members; m++) {
        const float *q = rldt_critic_q(c, m, false, obs, act, B);
        for (int b = 0; b < B; b++) s += w[b] * q[b] / c->members;
    }
    return s;
}

Test(critic, action_gradient_is_the_member_mean_of_dq_da)
{
    int od = 3, D = 4, B = 5;
    rldt_critic_t c = make_critic(od, D, B);
    float *obs = test_random_array((size_t)B * od, -1, 1, 1), *act = test_random_array((size_t)B * D, -1, 1, 2);
    float g[20], ones[5] = {1, 1, 1, 1, 1};
    rldt_critic_action_grad(&c, obs, act, B, g);
    for (int i = 0; i < B * D; i++) {
        float keep = act[i], h = 1e-2f;
        act[i] = keep + h;
        double lp = q_mean(&c, obs, act, B, ones);
        act[i] = keep - h;
        double lm = q_mean(&c, obs, act, B, ones);
        act[i] = keep;
        double fd = (lp - lm) / (2 * h);
        cr_assert_lt(fabs(g[i] - fd), 1e-3 + 1e-2 * fabs(fd), "elem %d: %g vs %g", i, g[i], fd);
    }
    /* no parameter gradient is produced by an action-gradient query */
    float *gp = malloc(sizeof(float) * c.online.n);
    memcpy(gp, c.online.g, sizeof(float) * c.online.n);
    for (size_t i = 0; i < c.online.n; i++) cr_assert_eq(gp[i], 0.0f);
    free(gp), free(obs), free(act);
    rldt_critic_free(&c);
}

Test(critic, member_loss_gradient_matches_finite_differences_and_stays_in_its_slice)
{
    int od = 2, D = 3, B = 6;
    rldt_critic_t c = make_critic(od, D, B);
    float *obs = test_random_array((size_t)B * od, -1, 1, 3), *act = test_random_array((size_t)B * D, -1, 1, 4);
    float *tgt = test_random_array(B, -1, 1, 5);
    rldt_trainable_zero_grad(&c.online);
    double loss = rldt_critic_accumulate(&c, 1, obs, act, tgt, B);
    const float *q = rldt_critic_q(&c, 1, false, obs, act, B);
    double ref = 0;
    for (int b = 0; b < B; b++) ref += (q[b] - tgt[b]) * (q[b] - tgt[b]) / B;
    cr_assert_float_eq(loss, ref, 1e-6);
    size_t n = c.member_params;
    for (size_t i = 0; i < n; i++) cr_assert_eq(c.online.g[i], 0.0f, "member 0's slice touched at %zu", i);
    for (size_t i = n; i < 2 * n; i += 7) {
        float keep = c.online.p[i], h = 1e-2f;
        double l[2];
        for (int s = 0; s < 2; s++) {
            c.online.p[i] = keep + (s ? -h : h);
            const float *qq = rldt_critic_q(&c, 1, false, obs, act, B);
            l[s] = 0;
            for (int b = 0; b < B; b++) l[s] += (qq[b] - tgt[b]) * (qq[b] - tgt[b]) / B;
        }
        c.online.p[i] = keep;
        double fd = (l[0] - l[1]) / (2 * h);
        cr_assert_lt(fabs(c.online.g[i] - fd), 1e-3 + 2e-2 * fabs(fd), "param %zu: %g vs %g", i, c.online.g[i], fd);
    }
    free(obs), free(act), free(tgt);
    rldt_critic_free(&c);
}

Test(critic, bootstrap_is_the_min_over_target_members_and_polyak_moves_targets)
{
    int od = 2, D = 2, B = 8;
    rldt_critic_t c = make_critic(od, D, B);
    float *obs = test_random_array((size_t)B * od, -1, 1, 6), *act = test_random_array((size_t)B * D, -1, 1, 7);
    float q0[8], q1[8], mn[8];
    memcpy(q0, rldt_critic_q(&c, 0, true, obs, act, B), sizeof q0);
    memcpy(q1, rldt_critic_q(&c, 1, true, obs, act, B), sizeof q1);
    rldt_critic_target_min(&c, obs, act, B, mn);
    int differ = 0;
    for (int b = 0; b < B; b++) {
        cr_assert_eq(mn[b], fminf(q0[b], q1[b]));
        differ += q0[b] != q1[b];
    }
    cr_assert_gt(differ, 0, "members were initialised identically");
    /* targets start equal to the online nets; after moving the online weights, polyak(0.005) moves the
     * targets 0.5% of the way */
    for (size_t i = 0; i < c.online.n; i++) cr_assert_eq(c.target[i], c.online.p[i]);
    float keep = c.target[3];
    c.online.p[3] += 1.0f;
    rldt_critic_polyak(&c, 0.005f);
    cr_assert_float_eq(c.target[3], keep + 0.005f, 1e-6);
    free(obs), free(act);
    rldt_critic_free(&c);
}

/* Q̄(s') over M = 3 action samples: the mean over samples of the min over target members, each sample's
 * actions read at its stride. */
Test(critic, bootstrap_value_is_the_sample_mean_of_the_member_min)
{
    int od = 2, D = 3, B = 6, M = 3;
    size_t stride = (size_t)B * D + 5; /* samples need not be packed */
    rldt_critic_t c = make_critic(od, D, B);
    float *obs = test_random_array((size_t)B * od, -1, 1, 8), *acts = test_random_array(M * stride, -1, 1, 9);
    float out[6], tmp[6];
    double ref[6] = {0};
    for (int m = 0; m < M; m++)
        for (int b = 0; b < B; b++) {
            float q0 = rldt_critic_q(&c, 0, true, obs, acts + m * stride, B)[b];
            float q1 = rldt_critic_q(&c, 1, true, obs, acts + m * stride, B)[b];
            ref[b] += fminf(q0, q1) / M;
        }
    rldt_critic_bootstrap(&c, obs, acts, M, stride, B, out, tmp);
    for (int b = 0; b < B; b++) cr_assert_lt(fabs(out[b] - ref[b]), 1e-6, "row %d: %g vs %g", b, out[b], ref[b]);
    free(obs), free(acts);
    rldt_critic_free(&c);
}

/* A member trained with Adam regresses Q(s, a) = s0 * a0 - a1^2 to a small loss. */
Test(critic, member_fits_a_simple_q_function)
{
    int od = 1, D = 2, B = 128;
    rldt_critic_t c = make_critic(od, D, B);
    rldt_adam_t opt = rldt_adam_default();
    float obs[128], act[256], tgt[128];
    rldt_rng_t rng;
    rldt_rng_init(&rng, 8, 8);
    double first = 0, last = 0;
    for (int step = 0; step < 600; step++) {
        for (int b = 0; b < B; b++) {
            obs[b] = 2 * rldt_rng_uniform(&rng) - 1;
            act[2 * b] = 2 * rldt_rng_uniform(&rng) - 1;
            act[2 * b + 1] = 2 * rldt_rng_uniform(&rng) - 1;
            tgt[b] = obs[b] * act[2 * b] - act[2 * b + 1] * act[2 * b + 1];
        }
        rldt_trainable_zero_grad(&c.online);
        double l = rldt_critic_accumulate(&c, 0, obs, act, tgt, B);
        rldt_trainable_step(&c.online, &opt, 3e-3f, 0.0f);
        if (step < 10) first += l / 10;
        if (step >= 590) last += l / 10;
    }
    cr_log_info("critic fit: loss %.4f -> %.5f", first, last);
    cr_assert_lt(last, 0.01, "loss %g", last);
    cr_assert_lt(last, first / 10);
    rldt_critic_free(&c);
}
