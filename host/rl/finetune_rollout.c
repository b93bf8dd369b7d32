/* finetune_rollout.c — exploration rollouts into the segment buffer (RLDT.md §6).
 *
 * Each chunk-step: sample the chain from noise, pick k uniformly in {K-2, K-1} per env, take
 * σ = ||a - a†_k|| (one scalar per env, over the whole chunk) and execute clip(a + σ N(0, I)). The buffer
 * keeps the executed chunk in normalised units and each step's transition (rldt_transition): sparse tasks
 * store one-time reward increments (divided by max(1, the rollout's largest raw reward)) and count every
 * step from an episode's first success on as terminal; with reward.mask_after_success, steps after the
 * first success get mask 0. With data parallelism each rank steps its own envs (seeded from its rank) with
 * its own exploration noise; the reward scales and the counts are the world's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "rldt/comm.h"
#include "rldt/log.h"

/* Normalised, clipped chunks to execute for the current observations (f->h_obs standardised), written to
 * f->h_exec; env-unit actions to f->h_act. Everything between the observation upload and the executed
 * chunk's download runs on the backend. */
static void explore(ft_t *f, rldt_rng_t *rng)
{
    const rldt_backend_t *be = f->be;
    int n = f->n_envs, D = f->D, K = f->K;
    size_t nx = (size_t)n * D;
    be->upload(f->r_obs, f->h_obs, sizeof(float) * (size_t)n * f->pin);
    if (f->img_bytes) { /* a pixel policy: the features of the current images, unshifted */
        be->upload(f->r_img, rldt_vecenv_images(f->venv), f->img_bytes * (size_t)n);
        rldt_pixels_encode(&f->px, f->actor.p, f->r_obs, f->r_img, n, NULL);
    }
    be->fill_normal(f->r_chain, nx, rng->seed, rng->stream, rldt_rng_claim(rng, nx));
    rldt_policy_sample(&f->pol, f->actor.p, f->r_obs, n, f->r_chain, f->r_chain);
    /* k uniform in {K-2, K-1} (0 when K = 1) and t = k/K per env */
    be->draw_index(f->r_k, f->r_t, K, NULL, K >= 2 ? K - 2 : 0, K >= 2 ? 2 : 1, (size_t)n, rng->seed, rng->stream,
                   rldt_rng_claim(rng, (size_t)n));
    be->chain_select(f->r_xk, f->r_chain, f->r_k, n, D);
    const float *v = rldt_policy_forward(&f->pol, f->actor.p, f->r_xk, f->r_t, f->r_obs, n);
    be->expected_target(f->r_at, f->r_xk, v, f->r_t, n, D);
    be->fill_normal(f->r_noise, nx, rng->seed, rng->stream, rldt_rng_claim(rng, nx));
    be->explore(f->r_exec, f->r_chain + (size_t)K * nx, f->r_at, f->r_noise, n, D);
    be->download(f->h_exec, f->r_exec, sizeof(float) * nx);
    rldt_policy_act(&f->pol, f->h_exec, f->h_act, n * f->pol.spec.chunk);
}

bool ft_all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

int ft_rollout(ft_t *f, ft_stats_t *st)
{
    const rldt_config_t *cfg = f->cfg;
    int n = f->n_envs, od = f->od, pin = f->pin, D = f->D, T = f->T;
    size_t ib = f->img_bytes;
    rldt_rng_t rng;
    rldt_rng_init(&rng, rldt_comm_seed((uint64_t)cfg->run_seed), rldt_rng_stream_id(RLDT_STREAM_TRAIN, 1, (uint32_t)f->itr));
    int *slot = f->slots;
    uint8_t *bad = f->bad;
    memset(bad, 0, (size_t)n);
    float max_raw = 1.0f; /* sparse increments are divided by max(1, the rollout's largest raw reward) */
    long steps = 0;
    for (int i = 0; i < n; i++) slot[i] = rldt_replay_push(&f->buf);
    for (int t = 0; t < T; t++) {
        rldt_pixels_observe(&f->px, &f->pol, rldt_vecenv_obs(f->venv), f->h_obs, n);
        for (int i = 0; i < n && ib; i++) /* the images the chunk starts from (the step replaces them) */
            memcpy(rldt_replay_image(&f->buf, slot[i], t, false), rldt_vecenv_images(f->venv) + (size_t)i * ib, ib);
        if (f->algo == FT_PPO)
            ft_ppo_act(f, &rng, t);
        else
            explore(f, &rng);
        if (rldt_vecenv_step(f->venv, f->h_act, f->pol.spec.chunk, &f->out)) return -1;
        for (int i = 0; i < n; i++) {
            int s = slot[i];
            size_t row = rldt_replay_step(&f->buf, s, t);
            bool ended = f->out.terminated[i] || f->out.truncated[i];
            const float *next = ended ? f->out.final_obs + (size_t)i * od : f->out.obs + (size_t)i * od;
            memcpy(rldt_replay_obs(&f->buf, s, t), f->h_obs + (size_t)i * pin, sizeof(float) * od);
            if (ib) { /* a pixel policy's standardised rows are wider: their low-dim columns, and the next image */
                rldt_pixels_observe(&f->px, &f->pol, next, f->h_row, 1);
                memcpy(rldt_replay_next_obs(&f->buf, s, t), f->h_row, sizeof(float) * od);
                const uint8_t *img = ended ? f->out.final_images : rldt_vecenv_images(f->venv);
                memcpy(rldt_replay_image(&f->buf, s, t, true), img + (size_t)i * ib, ib);
            } else {
                rldt_policy_observe(&f->pol, next, rldt_replay_next_obs(&f->buf, s, t), 1);
            }
            memcpy(rldt_replay_act(&f->buf, s, t), f->h_exec + (size_t)i * D, sizeof(float) * D);
            float raw = f->out.reward[i];
            if (isfinite(raw)) {
                f->ep_ret[i] += raw;
                if (raw > max_raw) max_raw = raw;
            }
            rldt_transition_t x = rldt_transition(&f->prev_raw[i], &f->seen_success[i], raw, f->out.success[i], f->out.terminated[i],
                                                  f->out.truncated[i], f->sparse, cfg->reward_mask_success);
            f->buf.rew[row] = x.reward;
            f->buf.term[row] = x.terminal;
            f->buf.ended[row] = x.ended;
            f->buf.success[row] = f->out.success[i];
            f->buf.mask[row] = x.mask;
            if (!isfinite(x.reward) || !ft_all_finite(f->h_obs + (size_t)i * pin, od) || !ft_all_finite(next, od) ||
                !ft_all_finite(f->h_exec + (size_t)i * D, D))
                bad[i] = 1;
            if (ended) f->ep_ret[i] = 0;
        }
        for (int i = 0; i < n; i++) steps += f->out.steps[i];
    }
    /* a segment with a non-finite observation, reward or policy action is dropped: zeroed (its actions too:
     * they came from the bad observation), with mask 0 everywhere */
    double world_max = max_raw; /* the largest over the ranks' rollouts, so that all divide alike */
    rldt_comm_max(&world_max, 1);
    max_raw = (float)world_max;
    float *rewards = f->rewards;
    size_t nr = 0;
    int dropped = 0;
    for (int i = 0; i < n; i++) {
        size_t row = rldt_replay_step(&f->buf, slot[i], 0);
        if (bad[i]) {
            memset(rldt_replay_obs(&f->buf, slot[i], 0), 0, sizeof(float) * (size_t)T * od);
            memset(rldt_replay_next_obs(&f->buf, slot[i], 0), 0, sizeof(float) * (size_t)T * od);
            memset(rldt_replay_act(&f->buf, slot[i], 0), 0, sizeof(float) * (size_t)T * D);
            memset(f->buf.rew + row, 0, sizeof(float) * (size_t)T);
            memset(f->buf.mask + row, 0, (size_t)T);
            dropped++;
        } else {
            if (f->sparse)
                for (int t = 0; t < T; t++) f->buf.rew[row + (size_t)t] /= max_raw;
            memcpy(rewards + nr, f->buf.rew + row, sizeof(float) * (size_t)T);
            nr += (size_t)T;
        }
    }
    if (dropped) rldt_warn("iteration %ld: %d segment(s) with non-finite observations, rewards or actions dropped", f->itr, dropped);
    /* the counts are the world's (with data parallelism): every rank counts the same, and the rollout is
     * skipped everywhere or nowhere */
    double world[2] = {(double)steps, (double)dropped};
    rldt_comm_sum(world, 2);
    f->env_steps += (long)world[0];
    st->skipped += (long)world[1];
    f->skipped += (long)world[1];
    if (world[1] == (double)n * rldt_comm_world()->size)
        ft_skip(f, st, FT_ROLLOUT);
    else
        ft_ok(f, FT_ROLLOUT);
    /* dense rewards: one step of the running mean |r| per rollout */
    if (!f->sparse) rldt_reward_scaler_update(&f->scaler, rewards, nr);
    ft_mirror(f, slot[0], n); /* the n slots were pushed in order: consecutive, wrapping at the end */
    return n;
}
