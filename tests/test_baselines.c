/* test_baselines.c — the two baselines RLDT is compared with, and the per-step gradient norms
 * (finetune.step_grad_freq).
 * BPTT (finetune.algo=bptt): the policy's input gradient and the gradient back-propagated through the whole
 * sampling chain against finite differences, a short bandit2d run that improves on its BC start, and
 * step_grads.csv (K rows per logged update, cut back and continued bit for bit on a resume).
 * PPO (finetune.algo=ppo): log π, the clipped surrogate's gradient and the advantages against hand-computed
 * cases and finite differences, the policy-parameter gradient against finite differences, a bandit2d run
 * that improves on its BC start, bit-exact resume, and step_grads.csv. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "training.h"
#include "rldt/critic.h"
#include "rldt/finetune.h"
#include "rldt/plot.h"
#include "rldt/policy.h"
#include "rldt/ppo.h"
#include "rldt/checkpoint.h"

// ---------------------------------------------------------------------------------------------------
// gradients against finite differences (CPU backend: backend memory is host memory)

enum { OBS = 3, ACT = 2, CHUNK = 2, K = 4, B = 6 };

static rldt_policy_t tiny_policy(float **params)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.policy_chunk = CHUNK;
    cfg.policy_k = K;
    cfg.policy_width = 16;
    cfg.policy_blocks = 1;
    cfg.policy_layernorm = true;
    snprintf(cfg.policy_act, sizeof cfg.policy_act, "silu"); /* smooth: finite differences see no kinks */
    rldt_policy_spec_t spec;
    cr_assert_eq(rldt_policy_spec_from_config(&cfg, OBS, ACT, &spec), RLDT_OK);
    rldt_policy_t p;
    cr_assert_eq(rldt_policy_init(&p, &spec, B, rldt_backend_cpu()), RLDT_OK, "%s", rldt_error_message());
    *params = malloc(sizeof(float) * p.nparams);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 5, RLDT_STREAM_INIT);
    rldt_policy_init_params(&p, *params, &rng);
    return p;
}

Test(bptt, policy_input_gradient_matches_finite_differences)
{
    float *P;
    rldt_policy_t p = tiny_policy(&P);
    int D = p.spec.D;
    size_t n = (size_t)B * D;
    float *x = test_random_array(n, -1, 1, 1), *t = test_random_array(B, 0, 1, 2), *obs = test_random_array((size_t)B * OBS, -1, 1, 3);
    float *r = test_random_array(n, -1, 1, 4), *dx = test_random_array(n, -1, 1, 5), *dx0 = malloc(sizeof(float) * n);
    float *G = calloc(p.nparams, sizeof(float));
    memcpy(dx0, dx, sizeof(float) * n);
    rldt_policy_forward(&p, P, x, t, obs, B);
    rldt_policy_backward_x(&p, P, G, r, dx); /* dx += d<v, r>/dx */
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i], h = 2e-3f;
        double l[2];
        for (int s = 0; s < 2; s++) {
            x[i] = keep + (s ? -h : h);
            const float *v = rldt_policy_forward(&p, P, x, t, obs, B);
            l[s] = 0;
            for (size_t j = 0; j < n; j++) l[s] += (double)v[j] * r[j];
        }
        x[i] = keep;
        double fd = (l[0] - l[1]) / (2 * h), got = (double)dx[i] - dx0[i];
        if (fabs(got - fd) > 2e-2 * fabs(fd) + 2e-3 && bad++ < 5) cr_log_error("x[%zu]: %g vs %g", i, got, fd);
    }
    cr_assert_eq(bad, 0, "%d of %zu input gradients off", bad, n);
    rldt_policy_free(&p);
    free(P), free(x), free(t), free(obs), free(r), free(dx), free(dx0), free(G);
}

/* L(θ) = -(1/B) Σ_b mean over members of Q(s_b, x_K(θ)) with the chain sampled from the fixed noise z. */
typedef struct {
    rldt_critic_t *c;
    const float *obs, *z;
    float *x;
} neg_mean_q_t;

static double neg_mean_q(rldt_policy_t *p, const float *P, void *ctx)
{
    neg_mean_q_t *a = ctx;
    rldt_critic_t *c = a->c;
    const float *obs = a->obs, *z = a->z;
    float *x = a->x;
    memcpy(x, z, sizeof(float) * (size_t)B * p->spec.D);
    rldt_policy_sample(p, P, obs, B, x, NULL);
    double q = 0;
    for (int m = 0; m < c->members; m++) {
        const float *qm = rldt_critic_q(c, m, false, obs, x, B);
        for (int b = 0; b < B; b++) q += qm[b];
    }
    return -q / ((double)B * c->members);
}

/* The index in [from, to) of the largest |G| below *below (which it becomes): successive calls walk the
 * parameters in order of decreasing |G|. */
static size_t largest_below(const float *G, size_t from, size_t to, float *below)
{
    size_t best = from;
    for (size_t i = from; i < to; i++)
        if (fabsf(G[i]) < *below && (fabsf(G[best]) >= *below || fabsf(G[i]) > fabsf(G[best]))) best = i;
    *below = fabsf(G[best]);
    return best;
}

/* A scalar loss of the policy parameters P, its other inputs fixed in ctx. */
typedef double (*param_loss_t)(rldt_policy_t *p, const float *P, void *ctx);

/* How many of the 6 largest gradients G of the time MLP and the 6 of the body differ from central
 * differences (step 1e-2) of `loss` by more than `tol` relative. */
static int top_gradients_off(rldt_policy_t *p, float *P, const float *G, param_loss_t loss, void *ctx, double tol)
{
    enum { TOP = 12 };
    int bad = 0;
    float below[2] = {INFINITY, INFINITY};
    for (int j = 0; j < TOP; j++) {
        size_t i = largest_below(G, j % 2 ? p->body_offset : 0, j % 2 ? p->nparams : p->body_offset, &below[j % 2]);
        float keep = P[i], h = 1e-2f;
        P[i] = keep + h;
        double lp = loss(p, P, ctx);
        P[i] = keep - h;
        double lm = loss(p, P, ctx);
        P[i] = keep;
        double fd = (lp - lm) / (2 * h);
        cr_log_info("param %zu: analytic %.6g, finite difference %.6g", i, G[i], fd);
        if (fabs(G[i] - fd) > tol * fabs(fd)) bad++;
    }
    return bad;
}

/* The gradient rldt_policy_chain_backward gives for dL/dx_K = -(1/B) ∇_a Q (what ft_bptt_step feeds it)
 * against central differences of L, on the 6 parameters with the largest gradients in the time MLP and the
 * 6 in the body (float32 sums over a 4-step chain: a 1e-2 relative bound; measured below 1e-4). The per-step norms it reports are the norms of each step's share:
 * they add up (as vectors) to the whole gradient, so their sum bounds its norm from above. */
Test(bptt, chain_gradient_matches_finite_differences_of_minus_mean_q)
{
    float *P;
    rldt_policy_t p = tiny_policy(&P);
    int D = p.spec.D;
    size_t n = (size_t)B * D;
    const rldt_backend_t *be = rldt_backend_cpu();
    rldt_critic_t c;
    rldt_rng_t rng;
    rldt_rng_init(&rng, 6, RLDT_STREAM_INIT);
    cr_assert_eq(rldt_critic_init(&c, OBS, D, 16, 2, 2, B, be, &rng), RLDT_OK, "%s", rldt_error_message());
    float *obs = test_random_array((size_t)B * OBS, -1, 1, 7), *z = test_random_array(n, -1.5f, 1.5f, 8);
    float *chain = malloc(sizeof(float) * (K + 1) * n), *lam = malloc(sizeof(float) * n), *dv = malloc(sizeof(float) * n);
    float *G = calloc(p.nparams, sizeof(float)), *scratch = malloc(sizeof(float) * p.nparams), *x = malloc(sizeof(float) * n);
    memcpy(chain, z, sizeof(float) * n);
    rldt_policy_sample(&p, P, obs, B, chain, chain);
    rldt_critic_action_grad(&c, obs, chain + (size_t)K * n, B, lam);
    for (size_t i = 0; i < n; i++) lam[i] *= -1.0f / B;
    double norms[K];
    rldt_policy_chain_backward(&p, P, G, obs, B, chain, lam, dv, scratch, norms);

    double total = 0, sum_norms = 0;
    for (size_t i = 0; i < p.nparams; i++) total += (double)G[i] * G[i];
    for (int k = 0; k < K; k++) sum_norms += norms[k];
    cr_assert_gt(sqrt(total), 0);
    cr_assert_leq(sqrt(total), sum_norms * (1 + 1e-5), "|G| %g > sum of per-step norms %g", sqrt(total), sum_norms);

    neg_mean_q_t ctx = {&c, obs, z, x};
    int bad = top_gradients_off(&p, P, G, neg_mean_q, &ctx, 1e-2);
    cr_assert_eq(bad, 0, "%d of 12 gradients off by more than 1%%", bad);
    rldt_critic_free(&c);
    rldt_policy_free(&p);
    free(P), free(obs), free(z), free(chain), free(lam), free(dv), free(G), free(scratch), free(x);
}

// ---------------------------------------------------------------------------------------------------
// fine-tuning with algo=bptt

/* bandit2d from the weak BC start of test_finetune.c's bandit runs: fine-tuning with `algo` raises the mean
 * reward by 0.2 in 20 iterations. */
static void bandit2d_improves(const char *algo)
{
    rldt_config_t cfg = training_pretrained("bandit2d", 1000, 0.25, 64, 1, 2000);
    snprintf(cfg.ft_algo, sizeof cfg.ft_algo, "%s", algo);
    cfg.env_n_envs = 64;
    cfg.ft_n_steps = 8;
    cfg.ft_iterations = 20;
    cfg.actor_lr = 1e-4;
    cfg.eval_episodes = 200;
    cfg.ft_val_freq = 1000; /* evaluate the BC start (iteration 0) and the end */
    rldt_finetune_result_t res;
    cr_assert_eq(rldt_finetune(&cfg, rldt_env_find("bandit2d"), rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    cr_log_info("bandit2d %s: eval return %.3f -> %.3f (%.0fs)", algo, res.eval_first.return_mean, res.eval_last.return_mean,
                res.seconds);
    cr_assert_geq(res.eval_last.return_mean, res.eval_first.return_mean + 0.2, "%s: return %.3f -> %.3f", algo,
                  res.eval_first.return_mean, res.eval_last.return_mean);
}

Test(bptt, bandit2d_improves_over_its_bc_start, .init = training_setup, .fini = training_teardown, .timeout = 240)
{
    bandit2d_improves("bptt");
}

/* step_grads.csv of run <training_dir>/<name>: its rows (itr, actor_update, k, norm) into rows[][4], the count returned. */
static int read_step_grads(const char *name, double (*rows)[4], int cap)
{
    char path[600], line[256];
    snprintf(path, sizeof path, "%s/%s/step_grads.csv", training_dir, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "itr,actor_update,k,grad_norm\n");
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        cr_assert_eq(sscanf(line, "%lf,%lf,%lf,%lf", &rows[n][0], &rows[n][1], &rows[n][2], &rows[n][3]), 4, "%s", line);
        n++;
    }
    fclose(f);
    return n;
}

/* K rows per logged update (every step_grad_freq-th, k = 0..K-1 in order, finite norms) for both algorithms:
 * positive for BPTT, where every step contributes; RLDT's is 0 at a step no particle drew. Returns the mean
 * over updates of |g_0| / |g_K-1| (BPTT only: RLDT's can divide by 0). */
static double check_step_grads(const char *algo, long freq)
{
    rldt_config_t cfg = training_tiny_pendulum();
    snprintf(cfg.ft_algo, sizeof cfg.ft_algo, "%s", algo);
    snprintf(cfg.run_name, sizeof cfg.run_name, "%s", algo);
    cfg.ft_iterations = 4;
    cfg.ft_step_grad_freq = freq;
    rldt_finetune_result_t res;
    cr_assert_eq(rldt_finetune(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    int Kc = (int)cfg.policy_k;
    bool bptt = strcmp(algo, "bptt") == 0;
    double rows[512][4];
    int n = read_step_grads(algo, rows, 512);
    long expected = 0; /* actor updates run at itr > critic_warmup: q_repeat x actor_steps each */
    for (long u = 0; u < (cfg.ft_iterations - cfg.ft_critic_warmup - 1) * cfg.ft_q_repeat * cfg.ft_actor_steps; u++) expected += u % freq == 0;
    cr_assert_eq(n, expected * Kc, "%s: %d rows, expected %ld updates x K = %d", algo, n, expected, Kc);
    double first_over_last = 0;
    for (int r = 0; r < n; r++) {
        int k = r % Kc;
        cr_assert_eq(rows[r][2], k);
        cr_assert_eq((long)rows[r][1] % freq, 0);
        cr_assert_eq(rows[r][1], rows[r - k][1], "row %d: one update's rows are contiguous", r);
        cr_assert(isfinite(rows[r][3]) && (rows[r][3] > 0 || (rows[r][3] == 0 && !bptt)), "%s row %d: norm %g", algo, r, rows[r][3]);
        if (bptt && k == Kc - 1) first_over_last += rows[r - k][3] / rows[r][3] / (n / Kc);
    }
    return first_over_last;
}

/* For BPTT the first denoising step gets less gradient than the last. Measured in this setting (12
 * iterations, seeds 0-4): every update's |g_0| / |g_K-1| was 0.82-0.98, the norms growing with k; in
 * larger runs (README) the ratio is lower. */
Test(bptt, step_grads_csv_has_k_rows_per_logged_update, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    check_step_grads("rldt", 3);
    double ratio = check_step_grads("bptt", 1);
    cr_log_info("bptt: mean |g_0| / |g_K-1| = %.3g", ratio);
    cr_assert_lt(ratio, 1.0, "BPTT: step 0's gradient is not smaller than step K-1's (mean ratio %g)", ratio);
}

/* A resumed run cuts step_grads.csv back to the checkpoint's iteration and rewrites the same rows. */
Test(bptt, step_grads_csv_is_cut_back_on_resume, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    rldt_config_t cfg = training_tiny_pendulum();
    snprintf(cfg.ft_algo, sizeof cfg.ft_algo, "bptt");
    cfg.ft_iterations = 5;
    cfg.ft_ckpt_every = 3;
    cfg.ft_step_grad_freq = 2;
    rldt_finetune_result_t res;
    cr_assert_eq(rldt_finetune(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(test_run("cp %s/ft/step_grads.csv %s/whole.csv", training_dir, training_dir), 0);
    snprintf(cfg.ft_resume, sizeof cfg.ft_resume, "%s/ft/finetune_3.ckpt", training_dir);
    cr_assert_eq(rldt_finetune(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(test_run("cmp %s/ft/step_grads.csv %s/whole.csv", training_dir, training_dir), 0, "%s", test_out);
    double rows[256][4];
    cr_assert_gt(read_step_grads("ft", rows, 256), 0);
}

/* `rldt plot` draws step_grads.png beside curves.png when the run has a step_grads.csv, draws "no data" for
 * one that holds only its header, and refuses one whose rows fine-tuning cannot have written. */
Test(bptt, plot_draws_step_grads, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    rldt_config_t cfg = training_tiny_pendulum();
    snprintf(cfg.ft_algo, sizeof cfg.ft_algo, "bptt");
    cfg.ft_iterations = 3;
    cfg.ft_step_grad_freq = 1;
    rldt_finetune_result_t res;
    cr_assert_eq(rldt_finetune(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    char dir[600], png[700];
    snprintf(dir, sizeof dir, "%s/ft", training_dir);
    snprintf(png, sizeof png, "%s/curves.png", dir);
    cr_assert_eq(rldt_plot_run(dir, png), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(test_run("test -s %s/step_grads.png", dir), 0, "no step_grads.png");
    /* k out of order in the second row */
    cr_assert_eq(test_run("sed -i '3s/^\\([0-9]*,[0-9]*\\),1,/\\1,5,/' %s/step_grads.csv", dir), 0);
    cr_assert_eq(rldt_plot_run(dir, png), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "step_grads.csv: line 3"), "%s", rldt_error_message());
    cr_assert_eq(test_run("sed -i '2,$d' %s/step_grads.csv", dir), 0); /* the header alone */
    cr_assert_eq(rldt_plot_run(dir, png), RLDT_OK, "%s", rldt_error_message());
}

// ---------------------------------------------------------------------------------------------------
// PPO through the denoising chain (finetune.algo=ppo)

/* log π = −‖z‖²/2, z = (x_{k+1} − x_k − v/K)/σ: with K = 2, σ = 0.5, x_k = (0, 1), v = (2, −2): μ = (1, 0), and
 * x_{k+1} = (1.5, 0.25) gives z = (1, 0.5), log π = −0.625. */
Test(ppo, logp_of_a_hand_computed_step)
{
    float xk[2] = {0, 1}, v[2] = {2, -2}, xn[2] = {1.5f, 0.25f};
    cr_assert_float_eq(rldt_ppo_logp(xk, xn, v, 2, 2, 0.5f), -0.625f, 1e-6f);
}

/* GAE on a hand-made 4-step segment (γ = 0.9, λ = 0.5, rewards divided by 2): step 2 terminal (no bootstrap,
 * no trace across it); then the same segment with step 1 truncated (bootstrapped, trace cut). */
Test(ppo, gae_of_a_hand_made_segment)
{
    float r[4] = {2, 4, 0, 6}, v[4] = {1, 2, 3, 4}, vn[4] = {2, 3, 4, 5}, adv[4], ret[4];
    uint8_t term[4] = {0, 0, 1, 0}, ended[4] = {0, 0, 1, 0};
    rldt_gae(adv, ret, r, v, vn, term, ended, 4, 0.9f, 0.5f, 2.0);
    /* δ3 = 3 + 0.9·5 − 4 = 3.5 (last step: A3 = δ3); δ2 = 0 − 3 (terminal); δ1 = 2 + 2.7 − 2 = 2.7,
     * A1 = 2.7 + 0.45·(−3); δ0 = 1 + 1.8 − 1 = 1.8, A0 = 1.8 + 0.45·1.35 */
    float want[4] = {2.4075f, 1.35f, -3.0f, 3.5f};
    for (int t = 0; t < 4; t++) {
        cr_assert_float_eq(adv[t], want[t], 1e-5f, "A[%d] = %g, want %g", t, adv[t], want[t]);
        cr_assert_float_eq(ret[t], want[t] + v[t], 1e-5f, "ret[%d]", t);
    }
    uint8_t term2[4] = {0, 0, 0, 0}, ended2[4] = {0, 1, 0, 0};
    rldt_gae(adv, ret, r, v, vn, term2, ended2, 4, 0.9f, 0.5f, 2.0);
    /* δ2 = 0 + 3.6 − 3 = 0.6, A2 = 0.6 + 0.45·3.5; A1 = δ1 = 2.7 (the trace stops at the truncation);
     * A0 = 1.8 + 0.45·2.7 */
    float want2[4] = {3.015f, 2.7f, 2.175f, 3.5f};
    for (int t = 0; t < 4; t++) cr_assert_float_eq(adv[t], want2[t], 1e-5f, "truncated: A[%d] = %g, want %g", t, adv[t], want2[t]);
}

/* dℓ/dv of the clipped surrogate against central differences of ℓ, for advantages of both signs and ratios
 * inside and outside the clip range (outside, where the clip is active, the gradient must be exactly 0). */
Test(ppo, surrogate_gradient_matches_finite_differences)
{
    enum { D = 3, KK = 4, CASES = 40 };
    float sigma = 0.3f, clip = 0.2f;
    float *all = test_random_array((size_t)CASES * 3 * D, -1, 1, 21), *jit = test_random_array(CASES * 2, -1, 1, 22);
    int clipped = 0, unclipped = 0;
    for (int c = 0; c < CASES; c++) {
        float *xk = all + (size_t)c * 3 * D, *xn = xk + D, *v = xn + D, dv[D], ratio;
        /* log π_old near log π(v): ratios from about e^-0.4 to e^0.4, both sides of the clip */
        float logp_old = rldt_ppo_logp(xk, xn, v, D, KK, sigma) + 0.4f * jit[2 * c];
        float adv = jit[2 * c + 1] > 0 ? 1.3f : -0.7f, w = 0.25f;
        rldt_ppo_sample(dv, &ratio, xk, xn, v, D, KK, sigma, logp_old, adv, clip, w);
        bool active = (adv > 0 && ratio > 1 + clip) || (adv < 0 && ratio < 1 - clip);
        if (fabsf(ratio - (1 + clip)) < 0.02f || fabsf(ratio - (1 - clip)) < 0.02f) continue; /* at the kink */
        active ? clipped++ : unclipped++;
        for (int d = 0; d < D; d++) {
            float keep = v[d], h = 1e-3f, r;
            float g[D];
            v[d] = keep + h;
            double lp = rldt_ppo_sample(g, &r, xk, xn, v, D, KK, sigma, logp_old, adv, clip, w);
            v[d] = keep - h;
            double lm = rldt_ppo_sample(g, &r, xk, xn, v, D, KK, sigma, logp_old, adv, clip, w);
            v[d] = keep;
            double fd = (lp - lm) / (2 * h);
            if (active)
                cr_assert_eq(dv[d], 0.0f, "case %d: clip active (ratio %g, A %g) but dv = %g", c, ratio, adv, dv[d]);
            else
                cr_assert(fabs(dv[d] - fd) <= 1e-2 * fabs(fd) + 1e-4, "case %d d %d: dv %g vs fd %g", c, d, dv[d], fd);
        }
    }
    cr_assert_gt(clipped, 3, "only %d clipped cases", clipped);
    cr_assert_gt(unclipped, 3, "only %d unclipped cases", unclipped);
    free(all), free(jit);
}

/* L(θ) = Σ_b ℓ_b(v(x_k,b, t_b | s_b; θ)) with weights 1/B: the policy-parameter gradient the trainer forms
 * (rldt_ppo_sample's dv through rldt_policy_backward) against central differences, on the 6 largest
 * gradients of each sub-network. */
typedef struct {
    const float *x, *t, *obs, *xn, *logp_old, *adv;
    float *dv;
} ppo_loss_t;

static double ppo_loss(rldt_policy_t *p, const float *P, void *ctx)
{
    const ppo_loss_t *a = ctx;
    const float *x = a->x, *t = a->t, *obs = a->obs, *xn = a->xn, *logp_old = a->logp_old, *adv = a->adv;
    float *dv = a->dv;
    int D = p->spec.D;
    const float *v = rldt_policy_forward(p, P, x, t, obs, B);
    double l = 0;
    float ratio;
    for (int b = 0; b < B; b++)
        l += rldt_ppo_sample(dv + (size_t)b * D, &ratio, x + (size_t)b * D, xn + (size_t)b * D, v + (size_t)b * D, D, K, 0.2f,
                             logp_old[b], adv[b], 0.2f, 1.0f / B);
    return l;
}

Test(ppo, policy_gradient_matches_finite_differences)
{
    float *P;
    rldt_policy_t p = tiny_policy(&P);
    int D = p.spec.D;
    size_t n = (size_t)B * D;
    float *x = test_random_array(n, -1, 1, 31), *xn = test_random_array(n, -1, 1, 32), *obs = test_random_array((size_t)B * OBS, -1, 1, 33);
    float t[B], logp_old[B], adv[B], *dv = malloc(sizeof(float) * n), *G = calloc(p.nparams, sizeof(float));
    for (int b = 0; b < B; b++) t[b] = (float)(b % K) / K, adv[b] = b % 2 ? -1.0f : 1.5f;
    const float *v = rldt_policy_forward(&p, P, x, t, obs, B);
    for (int b = 0; b < B; b++) /* ratios e^±0.05: inside the clip range, so every sample carries gradient */
        logp_old[b] = rldt_ppo_logp(x + (size_t)b * D, xn + (size_t)b * D, v + (size_t)b * D, D, K, 0.2f) + (b % 3 - 1) * 0.05f;
    ppo_loss_t ctx = {x, t, obs, xn, logp_old, adv, dv};
    ppo_loss(&p, P, &ctx);
    rldt_policy_backward(&p, P, G, dv);
    int bad = top_gradients_off(&p, P, G, ppo_loss, &ctx, 2e-2);
    cr_assert_eq(bad, 0, "%d of 12 gradients off by more than 2%%", bad);
    rldt_policy_free(&p);
    free(P), free(x), free(xn), free(obs), free(dv), free(G);
}

Test(ppo, bandit2d_improves_over_its_bc_start, .init = training_setup, .fini = training_teardown, .timeout = 240)
{
    bandit2d_improves("ppo");
}

/* A PPO run resumed from its iteration-2 checkpoint ends bit for bit where the whole run ends: the policy,
 * its Adam moments and the value network. */
Test(ppo, resume_is_bit_exact, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    rldt_config_t cfg = training_tiny_pendulum();
    snprintf(cfg.ft_algo, sizeof cfg.ft_algo, "ppo");
    cfg.ft_critic_warmup = 0;
    cfg.ft_iterations = 4;
    cfg.ft_ckpt_every = 2;
    cfg.ppo_minibatch = 64;
    rldt_finetune_result_t a, b;
    cr_assert_eq(rldt_finetune(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &a), RLDT_OK, "%s", rldt_error_message());
    snprintf(cfg.run_name, sizeof cfg.run_name, "resumed");
    snprintf(cfg.ft_resume, sizeof cfg.ft_resume, "%s/ft/finetune_2.ckpt", training_dir);
    cr_assert_eq(rldt_finetune(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &b), RLDT_OK, "%s", rldt_error_message());
    rldt_ckpt_t *ca, *cb, *c2;
    cr_assert_eq(rldt_ckpt_open(&ca, a.ckpt_path, "finetune"), RLDT_OK);
    cr_assert_eq(rldt_ckpt_open(&cb, b.ckpt_path, "finetune"), RLDT_OK);
    cr_assert_eq(rldt_ckpt_open(&c2, cfg.ft_resume, "finetune"), RLDT_OK);
    const char *names[] = {RLDT_POLICY_WEIGHTS, "actor/m", "actor/v", "ppo/value", "ppo/value_m", "ppo/value_v"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t na = rldt_ckpt_length(ca, names[i]), nb = rldt_ckpt_length(cb, names[i]);
        cr_assert(na > 0 && na == nb, "%s: %zu vs %zu", names[i], na, nb);
        float *x = malloc(sizeof(float) * na), *y = malloc(sizeof(float) * na), *z = malloc(sizeof(float) * na);
        cr_assert_eq(rldt_ckpt_read(ca, names[i], x, na), RLDT_OK);
        cr_assert_eq(rldt_ckpt_read(cb, names[i], y, na), RLDT_OK);
        cr_assert_eq(rldt_ckpt_read(c2, names[i], z, na), RLDT_OK);
        cr_assert(memcmp(x, y, sizeof(float) * na) == 0, "%s differs after resume", names[i]);
        cr_assert(memcmp(x, z, sizeof(float) * na) != 0, "%s did not change after iteration 2 (the test is vacuous)", names[i]);
        free(x), free(y), free(z);
    }
    rldt_ckpt_close(ca), rldt_ckpt_close(cb), rldt_ckpt_close(c2);
}

/* PPO's per-step norms: every denoising step carries its own ratio, so every k gets gradient; K rows per
 * logged update, epochs x ceil(samples / minibatch) updates per iteration that trains the actor. */
Test(ppo, step_grads_cover_every_denoising_step, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    rldt_config_t cfg = training_tiny_pendulum();
    snprintf(cfg.ft_algo, sizeof cfg.ft_algo, "ppo");
    snprintf(cfg.run_name, sizeof cfg.run_name, "ppo");
    cfg.ft_critic_warmup = 0;
    cfg.ft_iterations = 3;
    cfg.ft_val_freq = 0;
    cfg.ppo_minibatch = cfg.env_n_envs * cfg.ft_n_steps * cfg.policy_k; /* one minibatch holds every k */
    cfg.ft_step_grad_freq = 1;
    rldt_finetune_result_t res;
    cr_assert_eq(rldt_finetune(&cfg, rldt_env_find("pendulum"), rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    int Kc = (int)cfg.policy_k;
    long per_itr = cfg.ppo_epochs; /* one minibatch per epoch */
    double rows[2048][4];
    int n = read_step_grads("ppo", rows, 2048);
    long updates = (cfg.ft_iterations - 1) * per_itr; /* the actor learns from iteration 1 on (itr > critic_warmup = 0) */
    cr_assert_eq(n, updates * Kc, "%d rows, expected %ld updates x K", n, updates);
    for (int r = 0; r < n; r++) {
        cr_assert_eq(rows[r][2], r % Kc);
        cr_assert(isfinite(rows[r][3]) && rows[r][3] > 0, "row %d: norm %g", r, rows[r][3]);
    }
}
