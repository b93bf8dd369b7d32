/* probe_critic.c — does a fine-tuned critic tell success from failure? Reads a fine-tune checkpoint (its
 * online critics and its replay buffer) and prints the mean online Q (averaged over members) of the stored
 * transitions grouped by how many chunk-steps before a success they are (within their segment and episode),
 * next to γ^n, the value of a policy that surely succeeds n steps later, and the mean Q of the transitions
 * whose episode does not succeed inside the segment.
 * On reach2d, whose observation holds everything its scripted expert needs, it also asks whether the critic's
 * action gradient (the direction RLDT's actor follows) points where the expert would go: the mean cosine
 * between ∇_a Q (averaged over members) and a_expert − a at the stored transitions (a_expert: the expert's
 * action toward the current goal from the chunk's first observation, for every step of the chunk).
 *
 * usage: probe_critic FINETUNE.ckpt */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/checkpoint.h"
#include "rldt/config.h"
#include "rldt/critic.h"

#define MAX_AHEAD 12 /* groups 0..MAX_AHEAD-1 steps before success; the rest in the last */

static int fail(const char *what)
{
    fprintf(stderr, "probe_critic: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) return fail("usage: probe_critic FINETUNE.ckpt");
    rldt_ckpt_t *c;
    if (rldt_ckpt_open(&c, argv[1], "finetune")) return fail(rldt_error_message());
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    int64_t od, count, pushed;
    if (rldt_config_from_json(&cfg, rldt_ckpt_config(c), argv[1]) || rldt_ckpt_scalar_in(c, "obs_dim", 1, 1 << 20, &od) ||
        rldt_ckpt_scalar_in(c, "replay_count", 0, 1 << 30, &count) || rldt_ckpt_scalar_in(c, "replay_pushed", 0, INT64_MAX, &pushed))
        return fail(rldt_error_message());
    int T = (int)cfg.ft_n_steps;
    size_t steps_all = rldt_ckpt_length(c, "replay/rew"), n_act = rldt_ckpt_length(c, "replay/act");
    if (!steps_all || steps_all % (size_t)T || n_act % steps_all) return fail("replay arrays of unexpected sizes");
    int D = (int)(n_act / steps_all), cap = (int)(steps_all / (size_t)T);
    size_t steps = (size_t)count * T; /* slots 0..count-1 hold segments (the buffer fills from slot 0) */
    float *obs = malloc(sizeof(float) * steps_all * od), *act = malloc(sizeof(float) * n_act);
    uint8_t *success = malloc(steps_all), *ended = malloc(steps_all), *mask = malloc(steps_all);
    const rldt_backend_t *be = rldt_backend_cpu();
    rldt_critic_t q;
    rldt_rng_t rng;
    rldt_rng_init(&rng, 0, 0);
    if (rldt_ckpt_read(c, "replay/obs", obs, steps_all * od) || rldt_ckpt_read(c, "replay/act", act, n_act) ||
        rldt_ckpt_read_bytes(c, "replay/success", success, steps_all) || rldt_ckpt_read_bytes(c, "replay/ended", ended, steps_all) ||
        rldt_ckpt_read_bytes(c, "replay/mask", mask, steps_all) ||
        rldt_critic_init(&q, (int)od, D, (int)cfg.critic_width, (int)cfg.critic_depth, (int)cfg.critic_members, (int)steps, be, &rng) ||
        rldt_ckpt_read(c, "critic/online", q.online.p, q.online.n))
        return fail(rldt_error_message());
    rldt_ckpt_close(c);
    /* Q averaged over members */
    double *Q = calloc(steps, sizeof(double));
    for (int m = 0; m < q.members; m++) {
        const float *v = rldt_critic_q(&q, m, false, obs, act, (int)steps);
        for (size_t i = 0; i < steps; i++) Q[i] += v[i] / q.members;
    }
    /* steps before success within the segment and episode: walk each segment backwards */
    double sum[MAX_AHEAD + 1] = {0};
    long n[MAX_AHEAD + 1] = {0};
    for (int s = 0; s < (int)count; s++) {
        int ahead = -1; /* -1: no success ahead in this episode and segment */
        for (int t = T - 1; t >= 0; t--) {
            size_t i = (size_t)s * T + t;
            if (success[i]) ahead = 0;
            else if (ended[i]) ahead = -1;
            else if (ahead >= 0) ahead++;
            if (!mask[i]) continue;
            int g = ahead < 0 ? MAX_AHEAD : ahead < MAX_AHEAD - 1 ? ahead : MAX_AHEAD - 1;
            sum[g] += Q[i];
            n[g]++;
        }
    }
    printf("%s: %d of %d segments of %d chunk-steps, gamma %.4g\n", argv[1], (int)count, cap, T, cfg.critic_gamma);
    printf("%-28s %10s %10s %10s\n", "transitions", "count", "mean Q", "gamma^n");
    for (int g = 0; g < MAX_AHEAD; g++)
        if (n[g])
            printf("%2d%s chunk-steps before success %10ld %10.4f %10.4f\n", g, g == MAX_AHEAD - 1 ? "+" : " ", n[g],
                   sum[g] / n[g], pow(cfg.critic_gamma, g));
    printf("%-28s %10ld %10.4f\n", "no success ahead (segment)", n[MAX_AHEAD], n[MAX_AHEAD] ? sum[MAX_AHEAD] / n[MAX_AHEAD] : NAN);
    if (strcmp(cfg.env_name, "reach2d") == 0 && od == 7 && D % 2 == 0) {
        float *g = malloc(sizeof(float) * steps * D), mean[7], sd[7];
        rldt_ckpt_t *c2;
        if (rldt_ckpt_open(&c2, argv[1], "finetune") || rldt_ckpt_read(c2, "norm/obs_mean", mean, 7) ||
            rldt_ckpt_read(c2, "norm/obs_std", sd, 7))
            return fail(rldt_error_message());
        rldt_ckpt_close(c2);
        rldt_critic_action_grad(&q, obs, act, (int)steps, g);
        double cos_sum = 0;
        long used = 0;
        for (size_t i = 0; i < steps; i++) {
            if (!mask[i]) continue;
            float raw[7];
            for (int j = 0; j < 7; j++) raw[j] = obs[i * od + j] * fmaxf(sd[j], 1e-3f) + mean[j];
            const float *goal = raw[6] < 0.5f ? raw + 2 : raw + 4; /* phase 0: goal A, else goal B */
            double dot = 0, gg = 0, ee = 0;
            for (int d = 0; d < D; d++) {
                float e = fminf(fmaxf(20.0f * (goal[d % 2] - raw[d % 2]), -1.0f), 1.0f) - act[i * D + d];
                dot += (double)g[i * D + d] * e, gg += (double)g[i * D + d] * g[i * D + d], ee += (double)e * e;
            }
            if (ee < 0.01 || gg == 0) continue; /* the stored chunk is already the expert's */
            cos_sum += dot / sqrt(gg * ee);
            used++;
        }
        printf("reach2d: mean cosine of grad_a Q with (expert action - stored action) over %ld transitions: %.4f\n", used,
               used ? cos_sum / used : NAN);
        free(g);
    }
    free(obs), free(act), free(success), free(ended), free(mask), free(Q);
    rldt_critic_free(&q);
    return 0;
}
