/* test_sac.c — Soft Actor-Critic: the tanh-Gaussian log-density against a hand computation and its
 * normalisation, the head's backward and the three losses' gradients against finite differences on a tiny
 * network, the Polyak update, a short pendulum run that learns (and its curves drawn), `rldt collect policy=` writing the policy's
 * own actions, bad input (missing or foreign checkpoints, wrong dimensions, bad keys), and the same updates
 * on the device backend as on the CPU (suite `device`: the kernel emulator in `make test`, a GPU in
 * `make test-gpu`). */
#include "parity.h" /* first: it defines _DEFAULT_SOURCE */

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/checkpoint.h"
#include "rldt/dataset.h"
#include "rldt/plot.h"
#include "rldt/sac.h"
#include "training.h"

// ---------------------------------------------------------------------------------------------------
// the head

/* log pi(a|s) of one dimension in double, the textbook way: the Gaussian density of u at (mu, sigma) and
 * the change of variables a = tanh(u). */
static double logp_ref(double mu, double s, double eps)
{
    double ls = fmin(fmax(s, RLDT_SAC_LOG_STD_MIN), RLDT_SAC_LOG_STD_MAX), sigma = exp(ls), u = mu + sigma * eps;
    double gauss = -0.5 * ((u - mu) / sigma) * ((u - mu) / sigma) - log(sigma) - 0.5 * log(2 * RLDT_PI);
    return gauss - log(1 - tanh(u) * tanh(u));
}

Test(sac, head_log_prob_matches_a_hand_computation)
{
    /* (mu, raw log-std, eps): ordinary values, both clamps, a saturating tanh */
    const float cases[][3] = {{0.0f, 0.0f, 0.0f}, {0.3f, -0.5f, 1.2f}, {-1.1f, 0.4f, -0.7f}, {0.5f, 5.0f, 0.3f},
                              {0.2f, -25.0f, 2.0f}, {2.5f, 0.2f, 1.5f}, {-3.0f, -1.0f, -0.5f}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float a, mu = cases[i][0], s = cases[i][1], eps = cases[i][2];
        float lp = rldt_sac_head_elem(mu, s, eps, &a);
        double ls = fmin(fmax(s, RLDT_SAC_LOG_STD_MIN), RLDT_SAC_LOG_STD_MAX);
        cr_assert_float_eq(a, tanh(mu + exp(ls) * eps), 1e-6, "case %zu: a", i);
        cr_assert_lt(fabs(lp - logp_ref(mu, s, eps)), 1e-4 * (1 + fabs(lp)), "case %zu: %g vs %g", i, lp, logp_ref(mu, s, eps));
    }
    /* a row sums its dimensions; eps NULL is the deterministic action tanh(mean) */
    float out[4] = {0.3f, -1.1f, -0.5f, 0.4f}, eps[2] = {1.2f, -0.7f}, a[2], lp;
    rldt_sac_head_forward(out, eps, 1, 2, a, &lp);
    cr_assert_lt(fabs(lp - (logp_ref(0.3, -0.5, 1.2) + logp_ref(-1.1, 0.4, -0.7))), 1e-4);
    rldt_sac_head_forward(out, NULL, 1, 2, a, NULL);
    cr_assert_float_eq(a[0], tanhf(0.3f), 1e-7);
    cr_assert_float_eq(a[1], tanhf(-1.1f), 1e-7);
}

Test(sac, head_density_integrates_to_one_over_the_action_range)
{
    /* pi(a) = exp(log pi) over a in (-1, 1), reached through eps = (atanh(a) - mu) / sigma */
    const float params[][2] = {{0.0f, 0.0f}, {0.8f, -0.7f}, {-0.4f, 0.5f}};
    for (int k = 0; k < 3; k++) {
        double mu = params[k][0], sigma = exp(params[k][1]), sum = 0;
        int n = 200000;
        for (int i = 0; i < n; i++) {
            double x = -1 + (i + 0.5) * 2.0 / n;
            float a;
            float lp = rldt_sac_head_elem((float)mu, params[k][1], (float)((atanh(x) - mu) / sigma), &a);
            sum += exp(lp) * 2.0 / n;
        }
        cr_assert_lt(fabs(sum - 1), 2e-3, "params %d: integral %g", k, sum);
    }
}

Test(sac, head_backward_matches_finite_differences)
{
    int B = 3, A = 2;
    float *out = test_random_array((size_t)B * 2 * A, -1, 1, 11), *eps = test_random_array((size_t)B * A, -1.5f, 1.5f, 12);
    float *da = test_random_array((size_t)B * A, -1, 1, 13), *dlogp = test_random_array(B, -1, 1, 14);
    out[3] = 4.0f; /* a raw log-std above the clamp: no gradient */
    float a[6], lp[3], dout[12];
    rldt_sac_head_forward(out, eps, B, A, a, lp);
    rldt_sac_head_backward(out, eps, a, da, dlogp, B, A, dout);
    for (int i = 0; i < B * 2 * A; i++) {
        double l[2];
        float keep = out[i], h = 1e-3f;
        for (int side = 0; side < 2; side++) {
            out[i] = keep + (side ? -h : h);
            rldt_sac_head_forward(out, eps, B, A, a, lp);
            l[side] = 0;
            for (int j = 0; j < B * A; j++) l[side] += (double)da[j] * a[j];
            for (int b = 0; b < B; b++) l[side] += (double)dlogp[b] * lp[b];
        }
        out[i] = keep;
        double fd = (l[0] - l[1]) / (2 * h);
        cr_assert_lt(fabs(dout[i] - fd), 2e-3 + 1e-2 * fabs(fd), "elem %d: %g vs %g", i, dout[i], fd);
    }
    cr_assert_eq(dout[3], 0.0f);
    free(out), free(eps), free(da), free(dlogp);
}

// ---------------------------------------------------------------------------------------------------
// the losses' gradients on a tiny network

enum { OD = 3, AD = 2, NB = 4 };

typedef struct {
    float obs[NB * OD], next[NB * OD], act[NB * AD], rew[NB], eps_next[NB * AD], eps_now[NB * AD];
    uint8_t term[NB];
} batch_t;

static batch_t make_batch(void)
{
    batch_t b;
    float *r = test_random_array(sizeof b.obs / 4 + sizeof b.next / 4 + sizeof b.act / 4 + NB + 2 * NB * AD, -1, 1, 21);
    float *p = r;
    memcpy(b.obs, p, sizeof b.obs), p += NB * OD;
    memcpy(b.next, p, sizeof b.next), p += NB * OD;
    memcpy(b.act, p, sizeof b.act), p += NB * AD;
    memcpy(b.rew, p, sizeof b.rew), p += NB;
    memcpy(b.eps_next, p, sizeof b.eps_next), p += NB * AD;
    memcpy(b.eps_now, p, sizeof b.eps_now);
    free(r);
    for (int i = 0; i < NB; i++) b.term[i] = i == 1; /* one terminal transition */
    return b;
}

/* A tiny agent whose updates take no step (learning rates 0) and leave the targets alone unless tau > 0. */
static rldt_sac_t tiny_sac(float tau)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.sac_width = 8, cfg.sac_depth = 2, cfg.sac_batch = NB, cfg.sac_tau = tau, cfg.sac_alpha_init = 0.5;
    cfg.sac_actor_lr = cfg.sac_critic_lr = cfg.sac_alpha_lr = 0;
    rldt_sac_t s;
    cr_assert_eq(rldt_sac_init(&s, &cfg, OD, AD, NB, rldt_backend_cpu()), RLDT_OK, "%s", rldt_error_message());
    return s;
}

/* Actions and log pi of the current actor at obs with noise eps. */
static void sample(rldt_sac_t *s, const float *obs, const float *eps, float *a, float *lp)
{
    const float *out = rldt_mlp_forward(&s->actor_net, s->actor.p, obs, NB);
    rldt_sac_head_forward(out, eps, NB, AD, a, lp);
}

/* L_Q = sum_m mean_b (Q_m(s, a) - y)^2 with the targets y of the batch (fixed while the online critics move). */
static double critic_loss(rldt_sac_t *s, const batch_t *b, const float *y)
{
    double L = 0;
    for (int m = 0; m < 2; m++) {
        const float *q = rldt_critic_q(&s->critic, m, false, b->obs, b->act, NB);
        for (int i = 0; i < NB; i++) L += ((double)q[i] - y[i]) * ((double)q[i] - y[i]) / NB;
    }
    return L;
}

/* L_pi = mean_b alpha log pi(a~|s) - min_m Q_m(s, a~). */
static double actor_loss(rldt_sac_t *s, const batch_t *b, float alpha)
{
    float a[NB * AD], lp[NB], q0[NB];
    sample(s, b->obs, b->eps_now, a, lp);
    memcpy(q0, rldt_critic_q(&s->critic, 0, false, b->obs, a, NB), sizeof q0);
    const float *q1 = rldt_critic_q(&s->critic, 1, false, b->obs, a, NB);
    double L = 0;
    for (int i = 0; i < NB; i++) L += (alpha * (double)lp[i] - fmin(q0[i], q1[i])) / NB;
    return L;
}

/* Checks g against central differences of loss(params) for every parameter. */
static void check_grads(const char *what, float *params, const float *g, size_t n, double (*loss)(void *), void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        float keep = params[i], h = 2e-3f;
        params[i] = keep + h;
        double lp = loss(ctx);
        params[i] = keep - h;
        double lm = loss(ctx);
        params[i] = keep;
        double fd = (lp - lm) / (2 * h);
        cr_assert_lt(fabs(g[i] - fd), 5e-4 + 2e-2 * fabs(fd), "%s parameter %zu: %g vs %g", what, i, g[i], fd);
    }
}

typedef struct {
    rldt_sac_t *s;
    const batch_t *b;
    const float *y;
    float alpha;
} loss_ctx_t;
static double critic_loss_fn(void *c) { return critic_loss(((loss_ctx_t *)c)->s, ((loss_ctx_t *)c)->b, ((loss_ctx_t *)c)->y); }
static double actor_loss_fn(void *c) { return actor_loss(((loss_ctx_t *)c)->s, ((loss_ctx_t *)c)->b, ((loss_ctx_t *)c)->alpha); }

Test(sac, loss_gradients_match_finite_differences)
{
    rldt_sac_t s = tiny_sac(0);
    batch_t b = make_batch();
    /* critics far from their small initial weights, so that the two members' action gradients differ well
     * beyond the tolerance (the actor must follow the smaller member's) */
    for (size_t i = 0; i < s.critic.online.n; i++) s.critic.target[i] = s.critic.online.p[i] *= 4.0f;
    float alpha = rldt_sac_alpha(&s);
    /* the critic targets y = r + gamma (1 - term) (min Q'(s', a') - alpha log pi(a'|s')), composed here */
    float a2[NB * AD], lp2[NB], y[NB], qmin[NB];
    sample(&s, b.next, b.eps_next, a2, lp2);
    rldt_critic_target_min(&s.critic, b.next, a2, NB, qmin);
    for (int i = 0; i < NB; i++) y[i] = b.rew[i] + (b.term[i] ? 0 : s.gamma * (qmin[i] - alpha * lp2[i]));
    float a[NB * AD], lp[NB];
    sample(&s, b.obs, b.eps_now, a, lp);
    double mean_lp = 0;
    for (int i = 0; i < NB; i++) mean_lp += lp[i] / NB;

    rldt_sac_stats_t st = {0};
    rldt_sac_update_batch(&s, b.obs, b.act, b.rew, b.term, b.next, NB, b.eps_next, b.eps_now, &st);
    cr_assert_eq(st.n, 1);
    cr_assert_eq(st.skipped, 0);
    loss_ctx_t ctx = {&s, &b, y, alpha};
    cr_assert_lt(fabs(st.critic_loss - critic_loss(&s, &b, y)), 1e-5 * (1 + st.critic_loss));
    cr_assert_lt(fabs(st.actor_loss - actor_loss(&s, &b, alpha)), 1e-5 * (1 + fabs(st.actor_loss)));
    /* the update left every gradient in place (learning rates 0: no parameter moved) */
    check_grads("critic", s.critic.online.p, s.critic.online.g, s.critic.online.n, critic_loss_fn, &ctx);
    check_grads("actor", s.actor.p, s.actor.g, s.actor.n, actor_loss_fn, &ctx);
    /* L_alpha = -log_alpha (mean log pi + H) is linear in log_alpha: its derivative is the slope */
    double slope = -(mean_lp + s.target_entropy);
    cr_assert_lt(fabs(s.log_alpha.g[0] - slope), 1e-5 * (1 + fabs(slope)), "%g vs %g", s.log_alpha.g[0], slope);
    cr_assert_float_eq(s.target_entropy, -(float)AD, 0);
    rldt_sac_free(&s);
}

Test(sac, polyak_update_is_exact)
{
    rldt_sac_t s = tiny_sac(0.25f);
    size_t n = s.critic.online.n;
    float *before = test_random_array(n, -1, 1, 31);
    memcpy(s.critic.target, before, sizeof(float) * n);
    batch_t b = make_batch();
    rldt_sac_stats_t st = {0};
    rldt_sac_update_batch(&s, b.obs, b.act, b.rew, b.term, b.next, NB, b.eps_next, b.eps_now, &st);
    for (size_t i = 0; i < n; i++) {
        float want = before[i] + 0.25f * (s.critic.online.p[i] - before[i]);
        cr_assert_lt(fabsf(s.critic.target[i] - want), 1e-7f * (1 + fabsf(want)), "%zu: %g vs %g", i, s.critic.target[i], want);
    }
    free(before);
    rldt_sac_free(&s);
}

// ---------------------------------------------------------------------------------------------------
// training, checkpoints and collection

/* A small pendulum config writing into the test's directory. */
static rldt_config_t pendulum_config(long steps, int width)
{
    rldt_config_t cfg = training_config("pendulum", "", "sac");
    cfg.env_n_envs = 1;
    cfg.sac_steps = steps;
    cfg.sac_start_steps = 500;
    cfg.sac_update_after = 500;
    cfg.sac_width = width;
    cfg.sac_batch = 128;
    cfg.sac_log_every = 1000;
    cfg.sac_eval_every = 1000;
    cfg.eval_episodes = 8;
    return cfg;
}

Test(sac, learns_the_pendulum_swing_up, .init = training_setup, .fini = training_teardown, .timeout = 240)
{
    rldt_config_t cfg = pendulum_config(8000, 64);
    rldt_sac_result_t res;
    cr_assert_eq(rldt_sac_train(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    /* the first evaluation (1000 steps, 500 updates in) comes before the policy swings the pole up */
    cr_log_info("pendulum SAC: eval return %.1f -> %.1f in %ld env steps", res.eval_first.return_mean, res.eval_last.return_mean,
                res.env_steps);
    cr_assert_eq(res.env_steps, 8000);
    cr_assert_gt(res.eval_last.return_mean, res.eval_first.return_mean + 400, "%g -> %g", res.eval_first.return_mean,
                 res.eval_last.return_mean);
    cr_assert_gt(res.eval_last.return_mean, -500, "%g", res.eval_last.return_mean);
    /* the outputs of a run */
    char path[512];
    snprintf(path, sizeof path, "%s/sac/metrics.csv", training_dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[1024];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert(strncmp(line, "env_steps,updates,", 18) == 0, "%s", line);
    fclose(f);
    /* `rldt plot` draws a SAC run's curves */
    char dir[512], png[600];
    snprintf(dir, sizeof dir, "%s/sac", training_dir);
    snprintf(png, sizeof png, "%s/curves.png", dir);
    cr_assert_eq(rldt_plot_run(dir, png), RLDT_OK, "%s", rldt_error_message());
}

/* A briefly trained agent saved to <training_dir>/<name>/sac.ckpt; returns its path. */
static const char *short_run_named(const char *name)
{
    static char path[512];
    rldt_config_t cfg = pendulum_config(300, 16);
    snprintf(cfg.run_name, sizeof cfg.run_name, "%s", name);
    cfg.sac_start_steps = cfg.sac_update_after = 100;
    cfg.sac_batch = 32;
    cfg.sac_eval_every = 0;
    cfg.eval_episodes = 1;
    rldt_sac_result_t res;
    cr_assert_eq(rldt_sac_train(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    snprintf(path, sizeof path, "%s", res.ckpt_path);
    return path;
}

static const char *short_run(void) { return short_run_named("sac"); }

Test(sac, checkpoint_round_trips_and_a_seed_reproduces_the_run, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    const char *ckpt = short_run();
    rldt_sac_t s;
    rldt_config_t cfg;
    cr_assert_eq(rldt_sac_load(&s, &cfg, ckpt, 4, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(s.obs_dim, 3);
    cr_assert_eq(s.act_dim, 1);
    cr_assert_eq(cfg.sac_width, 16);
    cr_assert_gt(s.actor.step, 0);
    cr_assert_eq(s.actor.step, s.critic.online.step);
    /* saved again, the file reads back the same values */
    char again[600];
    snprintf(again, sizeof again, "%s/again.ckpt", training_dir);
    cr_assert_eq(rldt_sac_save(&s, &cfg, 300, NULL, again), RLDT_OK, "%s", rldt_error_message());
    rldt_sac_t t;
    cr_assert_eq(rldt_sac_load(&t, &cfg, again, 4, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(memcmp(s.actor.p, t.actor.p, sizeof(float) * s.actor.n), 0);
    cr_assert_eq(memcmp(s.actor.v, t.actor.v, sizeof(float) * s.actor.n), 0);
    cr_assert_eq(memcmp(s.critic.target, t.critic.target, sizeof(float) * s.critic.online.n), 0);
    cr_assert_eq(s.log_alpha.p[0], t.log_alpha.p[0]);
    rldt_sac_free(&s);
    rldt_sac_free(&t);
    /* the same seed trains the same agent */
    char first[512];
    snprintf(first, sizeof first, "%s", ckpt);
    const char *second = short_run_named("again");
    cr_assert_eq(rldt_sac_load(&s, &cfg, first, 1, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_sac_load(&t, &cfg, second, 1, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(memcmp(s.actor.p, t.actor.p, sizeof(float) * s.actor.n), 0, "two runs of one seed differ");
    cr_assert_eq(memcmp(s.critic.online.p, t.critic.online.p, sizeof(float) * s.critic.online.n), 0);
    rldt_sac_free(&s);
    rldt_sac_free(&t);
}

/* Reads a whole small text file into buf (NUL-terminated). */
static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* metrics.csv without its env_steps_per_s column (the only one that depends on the clock). */
static void without_speed(char *csv)
{
    char *out = csv;
    for (char *line = csv; *line;) {
        char *end = strchr(line, '\n'), *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        char *c3 = c2 ? strchr(c2 + 1, ',') : NULL;
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        if (c3 && c3 < line + len) { /* env_steps,updates,<speed>,... */
            size_t head = (size_t)(c2 - line);
            memmove(out, line, head), out += head;
            memmove(out, c3, len - (size_t)(c3 - line)), out += len - (size_t)(c3 - line);
        } else {
            memmove(out, line, len), out += len;
        }
        line += len;
    }
    *out = '\0';
}

Test(sac, a_resumed_run_continues_bit_for_bit, .init = training_setup, .fini = training_teardown, .timeout = 180)
{
    /* straight: 1260 env steps over 3 envs, logs every 150 and checkpoints every 330: the one at 660 falls
     * mid-episode (pendulum's are 200 steps; the next end at 1200) and between two logs */
    rldt_config_t cfg = pendulum_config(1260, 16);
    cfg.env_n_envs = 3;
    cfg.sac_start_steps = cfg.sac_update_after = 150;
    cfg.sac_batch = 32;
    cfg.sac_utd = 0.5; /* a fractional number of updates owed at the checkpoint */
    cfg.sac_log_every = 150;
    cfg.sac_eval_every = 300;
    cfg.sac_ckpt_every = 330;
    cfg.eval_episodes = 2;
    rldt_sac_result_t res;
    snprintf(cfg.run_name, sizeof cfg.run_name, "straight");
    cr_assert_eq(rldt_sac_train(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    /* resumed: the same run from its 660-step checkpoint, in another directory, metrics copied over first */
    char dir[512], mid[600], a[600], b[600];
    snprintf(dir, sizeof dir, "%s/resumed", training_dir);
    cr_assert_eq(test_run("mkdir -p %s && cp %s/straight/metrics.csv %s/straight/metrics.jsonl %s/", dir, training_dir, training_dir, dir),
                 0);
    snprintf(mid, sizeof mid, "%s/straight/sac_660.ckpt", training_dir);
    snprintf(cfg.run_name, sizeof cfg.run_name, "resumed");
    snprintf(cfg.sac_resume, sizeof cfg.sac_resume, "%s", mid);
    rldt_sac_result_t res2;
    cr_assert_eq(rldt_sac_train(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &res2), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(res2.env_steps, res.env_steps);
    cr_assert_eq(res2.updates, res.updates);
    /* the same agent, bit for bit */
    rldt_sac_t s, t;
    rldt_config_t c1, c2;
    snprintf(a, sizeof a, "%s/straight/sac.ckpt", training_dir);
    snprintf(b, sizeof b, "%s/resumed/sac.ckpt", training_dir);
    cr_assert_eq(rldt_sac_load(&s, &c1, a, 1, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_sac_load(&t, &c2, b, 1, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_gt(s.updates, 300);
    cr_assert_eq(memcmp(s.actor.p, t.actor.p, sizeof(float) * s.actor.n), 0, "the resumed actor differs");
    cr_assert_eq(memcmp(s.actor.m, t.actor.m, sizeof(float) * s.actor.n), 0);
    cr_assert_eq(memcmp(s.critic.online.p, t.critic.online.p, sizeof(float) * s.critic.online.n), 0, "the resumed critics differ");
    cr_assert_eq(memcmp(s.critic.target, t.critic.target, sizeof(float) * s.critic.online.n), 0);
    cr_assert_eq(s.log_alpha.p[0], t.log_alpha.p[0]);
    rldt_sac_free(&s);
    rldt_sac_free(&t);
    /* the same metrics rows (the checkpoint's rows kept once, none repeated), but for the clock's column */
    static char m1[1 << 16], m2[1 << 16];
    snprintf(a, sizeof a, "%s/straight/metrics.csv", training_dir);
    snprintf(b, sizeof b, "%s/resumed/metrics.csv", training_dir);
    slurp(a, m1, sizeof m1);
    slurp(b, m2, sizeof m2);
    without_speed(m1);
    without_speed(m2);
    cr_assert_str_eq(m1, m2);

    /* refused: a run of other sizes, one already at sac.steps, and a checkpoint without the run's state */
    rldt_config_t bad = cfg;
    bad.sac_width = 32;
    cr_assert_eq(rldt_sac_train(&bad, rldt_env_find("pendulum"), rldt_backend_cpu(), &res2), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "sac.width"), "%s", rldt_error_message());
    bad = cfg;
    bad.sac_steps = 660;
    cr_assert_eq(rldt_sac_train(&bad, rldt_env_find("pendulum"), rldt_backend_cpu(), &res2), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "sac.steps"), "%s", rldt_error_message());
    rldt_sac_t agent;
    rldt_config_t ac;
    cr_assert_eq(rldt_sac_load(&agent, &ac, mid, 1, NULL), RLDT_OK, "%s", rldt_error_message());
    snprintf(a, sizeof a, "%s/agent_only.ckpt", training_dir);
    cr_assert_eq(rldt_sac_save(&agent, &ac, 660, NULL, a), RLDT_OK, "%s", rldt_error_message());
    rldt_sac_free(&agent);
    bad = cfg;
    snprintf(bad.sac_resume, sizeof bad.sac_resume, "%s", a);
    cr_assert_eq(rldt_sac_train(&bad, rldt_env_find("pendulum"), rldt_backend_cpu(), &res2), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "run's state"), "%s", rldt_error_message());
}

Test(sac, collect_policy_writes_the_policys_own_actions, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    const char *ckpt = short_run();
    char out[600];
    snprintf(out, sizeof out, "%s/medium.h5", training_dir);
    cr_assert_eq(test_run("%s collect policy=%s demos=5 seed=3 out=%s", test_bin(), ckpt, out), 0, "%s", test_err);
    cr_assert_eq(test_run("%s dataset info %s", test_bin(), out), 0, "%s", test_err);
    cr_assert(strstr(test_out, "(valid)") && strstr(test_out, "demos         5") && strstr(test_out, "\"policy_kind\": \"sac\""),
              "%s", test_out);
    /* every recorded action is the policy's mean action at the recorded observation, in env units */
    rldt_dataset_t d;
    cr_assert_eq(rldt_dataset_load(&d, out, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(d.n_samples, 5 * 200);
    rldt_sac_t s;
    rldt_config_t cfg;
    cr_assert_eq(rldt_sac_load(&s, &cfg, ckpt, 1, NULL), RLDT_OK, "%s", rldt_error_message());
    for (size_t i = 0; i < d.n_samples; i++) {
        float a, env_a;
        rldt_sac_act(&s, d.obs + i * 3, 1, true, NULL, &a);
        rldt_sac_to_env(rldt_env_find("pendulum"), &a, 1, &env_a);
        cr_assert_lt(fabsf(env_a - d.actions[i]), 1e-5f, "sample %zu: %g vs %g", i, env_a, d.actions[i]);
    }
    rldt_sac_free(&s);
    rldt_dataset_free(&d);
    /* with noise the actions differ from the mean action */
    cr_assert_eq(test_run("%s collect policy=%s demos=2 noise=0.5 seed=3 out=%s/noisy.h5", test_bin(), ckpt, training_dir), 0, "%s",
                 test_err);
    /* `rldt eval` reports on the checkpoint */
    cr_assert_eq(test_run("%s eval %s episodes=2 n_envs=1", test_bin(), ckpt), 0, "%s", test_err);
    cr_assert(strstr(test_out, "pendulum: 2 episodes"), "%s", test_out);
}

Test(sac, bad_input_is_named_and_refused, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    const char *bin = test_bin();
    /* a missing checkpoint */
    cr_assert_eq(test_run("%s collect policy=%s/none.ckpt out=%s/x.h5", bin, training_dir, training_dir), 2);
    cr_assert(strstr(test_err, "none.ckpt"), "%s", test_err);
    /* neither a task nor a policy */
    cr_assert_eq(test_run("%s collect out=%s/x.h5", bin, training_dir), 2);
    cr_assert(strstr(test_err, "env=NAME") && strstr(test_err, "policy="), "%s", test_err);
    /* bad keys and values of `rldt sac` */
    cr_assert_eq(test_run("%s sac ../configs/sac_pendulum.yaml sac.bogus=1", bin), 2);
    cr_assert(strstr(test_err, "sac.bogus"), "%s", test_err);
    cr_assert_eq(test_run("%s sac ../configs/sac_pendulum.yaml sac.batch=0", bin), 2);
    cr_assert(strstr(test_err, "sac.batch"), "%s", test_err);
    cr_assert_eq(test_run("%s sac ../configs/sac_pendulum.yaml env.name=nowhere", bin), 2);
    cr_assert(strstr(test_err, "nowhere"), "%s", test_err);
    cr_assert_eq(test_run("%s sac", bin), 2);
    /* a replay buffer the machine cannot hold is refused before anything is allocated */
    cr_assert_eq(test_run("RLDT_MEM_AVAILABLE=100000000 %s sac ../configs/sac_pendulum.yaml sac.buffer=100000000 sac.steps=100000000 "
                          "run.out_dir=%s", bin, training_dir), 2);
    cr_assert(strstr(test_err, "replay buffer"), "%s", test_err);

    /* a non-SAC checkpoint: refused by the SAC loader by its kind, and by collect for what it lacks */
    char foreign[600];
    snprintf(foreign, sizeof foreign, "%s/pretrain.ckpt", training_dir);
    float w[5] = {0};
    rldt_ckpt_tensor_t t[1] = {{"policy/weights", w, 5, 0}};
    rldt_ckpt_scalar_t sc[2] = {{"obs_dim", 3}, {"act_dim", 1}};
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    char *json = rldt_config_to_json(&cfg);
    cr_assert_eq(rldt_ckpt_save(foreign, "pretrain", json, t, 1, sc, 2), RLDT_OK, "%s", rldt_error_message());
    rldt_sac_t s;
    cr_assert_eq(rldt_sac_load(&s, &cfg, foreign, 1, NULL), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "sac"), "%s", rldt_error_message());
    cr_assert_eq(test_run("%s collect policy=%s out=%s/x.h5", bin, foreign, training_dir), 2);
    cr_assert(strstr(test_err, "pretrain.ckpt"), "%s", test_err);
    /* a SAC checkpoint whose tensors are not the sizes its config describes */
    char wrong[600];
    snprintf(wrong, sizeof wrong, "%s/wrong.ckpt", training_dir);
    rldt_ckpt_tensor_t t2[1] = {{"actor/params", w, 5, 0}};
    rldt_ckpt_scalar_t sc2[6] = {{"obs_dim", 3},      {"act_dim", 1},     {"actor_steps", 0},
                                 {"critic_steps", 0}, {"alpha_steps", 0}, {"updates", 0}};
    cr_assert_eq(rldt_ckpt_save(wrong, RLDT_SAC_KIND, json, t2, 1, sc2, 6), RLDT_OK, "%s", rldt_error_message());
    free(json);
    cr_assert_eq(test_run("%s collect policy=%s out=%s/x.h5", bin, wrong, training_dir), 2);
    cr_assert(strstr(test_err, "actor/params"), "%s", test_err);
    /* a SAC policy rolled out in a task of other dimensions */
    const char *ckpt = short_run();
    cr_assert_eq(test_run("%s collect policy=%s env=reach2d out=%s/x.h5", bin, ckpt, training_dir), 2);
    cr_assert(strstr(test_err, "does not fit task reach2d"), "%s", test_err);
    cr_assert_eq(test_run("ls %s/x.h5*", training_dir), 2, "a refused collect left a file: %s", test_out);
}

Test(sac, collect_policy_reads_a_flow_checkpoint_too, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    rldt_config_t cfg = training_pretrained("pendulum", 10, 0.05, 32, 4, 50);
    char out[600];
    snprintf(out, sizeof out, "%s/flow.h5", training_dir);
    cr_assert_eq(test_run("%s collect policy=%s demos=3 noise=0.1 out=%s", test_bin(), cfg.ft_init, out), 0, "%s", test_err);
    cr_assert_eq(test_run("%s dataset info %s", test_bin(), out), 0, "%s", test_err);
    cr_assert(strstr(test_out, "demos         3") && strstr(test_out, "\"policy_kind\": \"flow\""), "%s", test_out);
}

Test(sac, a_truncated_step_bootstraps_and_a_terminated_one_does_not)
{
    /* three envs after one step: env 0 hit the time limit, env 1 ended by the task's rules, env 2 goes on */
    rldt_replay_t buf;
    rldt_replay_init(&buf, 2, 1, 1, 8);
    float obs[6] = {1, 1, 2, 2, 3, 3}, unit[3] = {0.1f, 0.2f, 0.3f};
    float next[6] = {10, 10, 20, 20, 30, 30}, final[6] = {-10, -10, -20, -20, 99, 99}, rew[3] = {1, 2, 3};
    int steps[3] = {1, 1, 1};
    uint8_t term[3] = {0, 1, 0}, trunc[3] = {1, 0, 0}, succ[3] = {0};
    rldt_vec_out_t out = {next, final, rew, steps, term, trunc, succ, NULL, NULL};
    rldt_sac_store(&buf, obs, unit, &out, 3);
    cr_assert_eq(buf.count, 3);
    cr_assert_eq(buf.term[0], 0, "a truncated step must bootstrap");
    cr_assert_eq(buf.term[1], 1);
    cr_assert_eq(buf.term[2], 0);
    cr_assert(buf.ended[0] && buf.ended[1] && !buf.ended[2]);
    /* where the episode ended, the next observation is the terminal one, not the next episode's first */
    cr_assert_eq(rldt_replay_next_obs(&buf, 0, 0)[0], -10);
    cr_assert_eq(rldt_replay_next_obs(&buf, 1, 0)[0], -20);
    cr_assert_eq(rldt_replay_next_obs(&buf, 2, 0)[0], 30);
    cr_assert_eq(rldt_replay_obs(&buf, 2, 0)[1], 3);
    cr_assert_float_eq(rldt_replay_act(&buf, 1, 0)[0], 0.2f, 0);
    cr_assert_eq(buf.rew[2], 3);
    rldt_replay_free(&buf);
}

Test(sac, the_command_writes_checkpoint_metrics_and_a_summary, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    cr_assert_eq(test_run("%s sac ../configs/sac_pendulum.yaml sac.steps=300 sac.start_steps=100 sac.update_after=100 sac.width=16 "
                          "sac.batch=32 sac.eval_every=200 sac.ckpt_every=200 eval.episodes=1 run.out_dir=%s run.name=cli",
                          test_bin(), training_dir),
                 0, "%s", test_err);
    cr_assert(strstr(test_out, "sac pendulum: 300 env steps, 201 updates") && strstr(test_out, "checkpoint: "), "%s", test_out);
    const char *files[] = {"sac.ckpt", "sac_200.ckpt", "metrics.csv", "metrics.jsonl"};
    for (int i = 0; i < 4; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/cli/%s", training_dir, files[i]);
        cr_assert_eq(access(path, F_OK), 0, "%s missing", path);
    }
    /* one JSON object per row: the 200-step evaluation, the 300-step log row and the final evaluation */
    cr_assert_eq(test_run("grep -c '^{\"env_steps\":' %s/cli/metrics.jsonl", training_dir), 0);
    cr_assert_eq(atoi(test_out), 3, "%s", test_out);
}

Test(device, sac_updates_match_the_cpu, .init = training_setup, .fini = training_teardown, .timeout = 600)
{
    const rldt_backend_t *dev = parity_backend();
    /* random actions throughout: both runs see the same transitions, so they differ only by the arithmetic */
    rldt_config_t cfg = pendulum_config(300, 16);
    cfg.sac_start_steps = 300, cfg.sac_update_after = 100, cfg.sac_batch = 32, cfg.sac_eval_every = 0, cfg.eval_episodes = 1;
    rldt_sac_t init, a, b;
    cr_assert_eq(rldt_sac_init(&init, &cfg, 3, 1, 1, rldt_backend_cpu()), RLDT_OK, "%s", rldt_error_message());
    const char *names[2] = {"cpu", "dev"};
    const rldt_backend_t *bes[2] = {rldt_backend_cpu(), dev};
    char ckpt[2][600];
    for (int k = 0; k < 2; k++) {
        snprintf(cfg.run_name, sizeof cfg.run_name, "%s", names[k]);
        rldt_sac_result_t res;
        cr_assert_eq(rldt_sac_train(&cfg, rldt_env_find("pendulum"), bes[k], &res), RLDT_OK, "%s", rldt_error_message());
        snprintf(ckpt[k], sizeof ckpt[k], "%s", res.ckpt_path);
    }
    cr_assert_eq(rldt_sac_load(&a, &cfg, ckpt[0], 1, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_sac_load(&b, &cfg, ckpt[1], 1, NULL), RLDT_OK, "%s", rldt_error_message());
    double actor = parity_update_mismatch(a.actor.p, b.actor.p, init.actor.p, a.actor.n);
    double critic = parity_update_mismatch(a.critic.online.p, b.critic.online.p, init.critic.online.p, a.critic.online.n);
    cr_log_info("SAC on %s: actor update %.2g, critic update %.2g relative to the CPU's", dev->name, actor, critic);
    cr_assert_lt(actor, 1e-2, "actor: %g", actor); /* 1.5e-7 on the kernel emulator; a GPU rounds differently */
    cr_assert_lt(critic, 1e-2, "critic: %g", critic);
    cr_assert_lt(fabsf(a.log_alpha.p[0] - b.log_alpha.p[0]), 1e-3f);
    rldt_sac_free(&init), rldt_sac_free(&a), rldt_sac_free(&b);
}
