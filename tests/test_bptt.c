/* test_bptt.c — the BPTT baseline (finetune.algo=bptt) and the per-step gradient norms
 * (finetune.step_grad_freq): the policy's input gradient and the gradient back-propagated through the whole
 * sampling chain against finite differences, a short bandit2d run that improves on its BC start, and
 * step_grads.csv (K rows per logged update, cut back and continued bit for bit on a resume). */
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
static double neg_mean_q(rldt_policy_t *p, const float *P, rldt_critic_t *c, const float *obs, const float *z, float *x)
{
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

    enum { TOP = 12 };
    int bad = 0;
    float below[2] = {INFINITY, INFINITY};
    for (int j = 0; j < TOP; j++) {
        size_t i = largest_below(G, j % 2 ? p.body_offset : 0, j % 2 ? p.nparams : p.body_offset, &below[j % 2]);
        float keep = P[i], h = 1e-2f;
        P[i] = keep + h;
        double lp = neg_mean_q(&p, P, &c, obs, z, x);
        P[i] = keep - h;
        double lm = neg_mean_q(&p, P, &c, obs, z, x);
        P[i] = keep;
        double fd = (lp - lm) / (2 * h);
        cr_log_info("param %zu: bptt %.6g, finite difference %.6g", i, G[i], fd);
        if (fabs(G[i] - fd) > 1e-2 * fabs(fd)) bad++;
    }
    cr_assert_eq(bad, 0, "%d of %d gradients off by more than 1%%", bad, TOP);
    rldt_critic_free(&c);
    rldt_policy_free(&p);
    free(P), free(obs), free(z), free(chain), free(lam), free(dv), free(G), free(scratch), free(x);
}

// ---------------------------------------------------------------------------------------------------
// fine-tuning with algo=bptt

/* bandit2d from the weak BC start of test_finetune.c's bandit runs: BPTT raises the mean reward. */
Test(bptt, bandit2d_improves_over_its_bc_start, .init = training_setup, .fini = training_teardown, .timeout = 240)
{
    rldt_config_t cfg = training_pretrained("bandit2d", 1000, 0.25, 64, 1, 2000);
    snprintf(cfg.ft_algo, sizeof cfg.ft_algo, "bptt");
    cfg.env_n_envs = 64;
    cfg.ft_n_steps = 8;
    cfg.ft_iterations = 20;
    cfg.actor_lr = 1e-4;
    cfg.eval_episodes = 200;
    cfg.ft_val_freq = 1000; /* evaluate the BC start (iteration 0) and the end */
    rldt_finetune_result_t res;
    cr_assert_eq(rldt_finetune(&cfg, rldt_env_find("bandit2d"), rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    cr_log_info("bandit2d bptt: eval return %.3f -> %.3f (%.0fs)", res.eval_first.return_mean, res.eval_last.return_mean, res.seconds);
    cr_assert_geq(res.eval_last.return_mean, res.eval_first.return_mean + 0.2, "return %.3f -> %.3f", res.eval_first.return_mean,
                  res.eval_last.return_mean);
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
