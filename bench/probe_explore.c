/* probe_explore.c — how much do RLDT's rollouts explore, next to PPO's noisy chains? Reads a fine-tune
 * checkpoint, takes the states of its replay buffer, and for the pretrained policy ("policy/pretrained") and
 * the fine-tuned one (RLDT_POLICY_WEIGHTS) prints, in normalised action units and averaged over the states:
 *  - spread: the root-mean-square distance of S = 16 chunks sampled from noise (no added noise) from their
 *    mean: how much the policy's own sampling varies;
 *  - rldt sigma: RLDT's exploration scale σ = ‖a − a†_k‖ with k uniform in {K−2, K−1} (RLDT.md §6), its
 *    mean over the samples and its mean at k = K−2 alone (at k = K−1 it is 0);
 *  - ppo spread at σ: the same spread as the first column for chains that add N(0, σ²) at every
 *    denoising step (finetune.algo=ppo), for σ = 0.1 and 0.2.
 * A chunk-wide σ and a per-coordinate spread differ by √D: both are printed per chunk (‖·‖ over D values).
 *
 * usage: probe_explore FINETUNE.ckpt [STATES] (STATES: how many buffer states, default 512) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rldt/checkpoint.h"
#include "rldt/policy.h"

enum { S = 16 };

static int fail(const char *what)
{
    fprintf(stderr, "probe_explore: %s\n", what);
    return 1;
}

/* The mean over the N states of the RMS distance of each state's S chunks (x [S][N][D]) from their mean. */
static double spread(const float *x, int N, int D)
{
    double total = 0;
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (int d = 0; d < D; d++) {
            double mean = 0, sq = 0;
            for (int s = 0; s < S; s++) mean += x[((size_t)s * N + n) * D + d] / S;
            for (int s = 0; s < S; s++) sq += pow(x[((size_t)s * N + n) * D + d] - mean, 2) / S;
            ss += sq;
        }
        total += sqrt(ss) / N;
    }
    return total;
}

/* S chains per state from noise (rows [S][N] of obs repeated), with N(0, sigma²) added at every step. */
static void noisy_chains(rldt_policy_t *p, const float *w, const float *obs, int N, float sigma, rldt_rng_t *rng, float *x,
                         float *t, float *tmp)
{
    int B = S * N, D = p->spec.D, K = p->spec.K;
    size_t nx = (size_t)B * D;
    rldt_rng_fill_normal(rng, x, nx);
    for (int k = 0; k < K; k++) {
        for (int b = 0; b < B; b++) t[b] = (float)k / K;
        const float *v = rldt_policy_forward(p, w, x, t, obs, B);
        rldt_rng_fill_normal(rng, tmp, nx);
        for (size_t i = 0; i < nx; i++) x[i] += v[i] / K + sigma * tmp[i];
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) return fail("usage: probe_explore FINETUNE.ckpt [STATES]");
    int want = argc == 3 ? atoi(argv[2]) : 512;
    if (want < 1 || want > 100000) return fail("STATES must be 1..100000");
    rldt_ckpt_t *c;
    if (rldt_ckpt_open(&c, argv[1], "finetune")) return fail(rldt_error_message());
    rldt_config_t cfg;
    rldt_policy_t p;
    int64_t count;
    if (rldt_ckpt_scalar_in(c, "replay_count", 1, 1 << 30, &count)) return fail(rldt_error_message());
    size_t n_obs = rldt_ckpt_length(c, "replay/obs"), n_rew = rldt_ckpt_length(c, "replay/rew");
    if (rldt_policy_from_ckpt(c, &cfg, &p, S * want, rldt_backend_cpu())) return fail(rldt_error_message());
    int od = p.spec.obs_dim, D = p.spec.D, K = p.spec.K, T = (int)cfg.ft_n_steps;
    if (!n_rew || n_obs != n_rew * (size_t)od) return fail("replay arrays of unexpected sizes");
    size_t filled = (size_t)count * T < n_rew ? (size_t)count * T : n_rew;
    int N = (size_t)want < filled ? want : (int)filled;
    float *all = malloc(sizeof(float) * n_obs), *w[2] = {malloc(sizeof(float) * p.nparams), malloc(sizeof(float) * p.nparams)};
    if (rldt_ckpt_read(c, "replay/obs", all, n_obs) || rldt_ckpt_read(c, "policy/pretrained", w[0], p.nparams) ||
        rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, w[1], p.nparams))
        return fail(rldt_error_message());
    rldt_ckpt_close(c);
    size_t B = (size_t)S * N, nx = B * D;
    float *obs = malloc(sizeof(float) * B * od), *chain = malloc(sizeof(float) * (K + 1) * nx), *t = malloc(sizeof(float) * B);
    float *at = malloc(sizeof(float) * nx), *tmp = malloc(sizeof(float) * nx);
    for (size_t b = 0; b < B; b++) /* state n: buffer row n * filled / N, once per sample */
        for (int j = 0; j < od; j++) obs[b * od + j] = all[(b % N) * (filled / N) * od + j];
    rldt_rng_t rng;
    rldt_rng_init(&rng, 1, rldt_rng_stream_id(RLDT_STREAM_TRAIN, 99, 0));
    printf("%s: %d states, %d samples each, chunk D = %d, K = %d\n", argv[1], N, S, D, K);
    printf("%-12s %10s %12s %14s %14s %14s\n", "policy", "spread", "rldt sigma", "sigma at K-2", "ppo 0.1", "ppo 0.2");
    for (int which = 0; which < 2; which++) {
        rldt_rng_fill_normal(&rng, chain, nx);
        rldt_policy_sample(&p, w[which], obs, (int)B, chain, chain);
        const float *a = chain + (size_t)K * nx;
        double sig_mean = 0, sig_k2 = 0;
        for (int kk = K - 2; kk < K && kk >= 0; kk++) { /* σ at k = K-2 and K-1, each for every sample */
            rldt_policy_expected_target(&p, w[which], chain + (size_t)kk * nx, kk, obs, (int)B, at);
            double m = 0;
            for (size_t b = 0; b < B; b++) {
                double s2 = 0;
                for (int d = 0; d < D; d++) s2 += pow(a[b * D + d] - at[b * D + d], 2);
                m += sqrt(s2) / B;
            }
            sig_mean += m / 2; /* k uniform over the two */
            if (kk == K - 2) sig_k2 = m;
        }
        double base = spread(a, N, D), ppo[2];
        for (int j = 0; j < 2; j++) {
            noisy_chains(&p, w[which], obs, N, 0.1f * (j + 1), &rng, chain, t, tmp);
            ppo[j] = spread(chain, N, D);
        }
        printf("%-12s %10.4f %12.4f %14.4f %14.4f %14.4f\n", which ? "fine-tuned" : "pretrained", base, sig_mean, sig_k2, ppo[0],
               ppo[1]);
    }
    free(all), free(w[0]), free(w[1]), free(obs), free(chain), free(t), free(at), free(tmp);
    rldt_policy_free(&p);
    return 0;
}
