/* finetune_update.c — one round of RLDT updates: bootstrap values and TD(λ) targets for a batch of
 * segments, critic steps on them, then actor steps on the transport loss (RLDT.md §3–5, §7). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "rldt/log.h"

// ---------------------------------------------------------------------------------------------------
// critic

/* qnext for every step of the round's segments: the mean over M fresh policy samples a' ~ π(.|s') of the
 * min over target members, clipped to [q_min, q_max]. The samples are drawn once per round. */
static void bootstrap(ft_t *f, int nseg, rldt_rng_t *rng)
{
    const rldt_backend_t *be = f->be;
    const rldt_config_t *cfg = f->cfg;
    int T = f->T, od = f->od, D = f->D, M = (int)cfg->critic_samples;
    size_t total = (size_t)nseg * T;
    for (size_t start = 0; start < total; start += (size_t)f->max_batch) {
        int B = (int)(total - start < (size_t)f->max_batch ? total - start : (size_t)f->max_batch);
        for (int r = 0; r < B; r++) {
            size_t j = start + (size_t)r;
            memcpy(f->s_obs + (size_t)r * od, rldt_replay_next_obs(&f->buf, f->round_segs[j / T], (int)(j % T)), sizeof(float) * od);
        }
        be->upload(f->u_obs, f->s_obs, sizeof(float) * (size_t)B * od);
        be->fill(f->u_tgt, 0.0f, (size_t)B);
        for (int m = 0; m < M; m++) {
            size_t nx = (size_t)B * D;
            be->fill_normal(f->u_x, nx, rng->seed, rng->stream, rldt_rng_claim(rng, nx));
            rldt_policy_sample(&f->pol, f->actor.p, f->u_obs, B, f->u_x, NULL);
            rldt_critic_target_min(&f->critic, f->u_obs, f->u_x, B, f->u_tmp);
            be->axpy(f->u_tgt, 1.0f / (float)M, f->u_tmp, (size_t)B);
        }
        be->download(f->qnext + start, f->u_tgt, sizeof(float) * (size_t)B);
    }
    for (size_t j = 0; j < total; j++) f->qnext[j] = fminf(fmaxf(f->qnext[j], (float)cfg->critic_q_min), (float)cfg->critic_q_max);
}

/* TD(λ) targets for the round's segments into f->G (rewards scaled on dense tasks). */
static void targets(ft_t *f, int nseg)
{
    int T = f->T;
    float *r = f->r_seg;
    for (int s = 0; s < nseg; s++) {
        size_t row = rldt_replay_step(&f->buf, f->round_segs[s], 0);
        memcpy(r, f->buf.rew + row, sizeof(float) * (size_t)T);
        if (!f->sparse) rldt_reward_scaler_scale(&f->scaler, r, (size_t)T);
        rldt_td_lambda(f->G + (size_t)s * T, r, f->buf.term + row, f->buf.ended + row, f->qnext + (size_t)s * T, T,
                       (float)f->cfg->critic_gamma, (float)f->cfg->critic_lambda);
    }
}

/* Indices (segment-in-round * T + t) of member m's transitions, with mask 1: the segments whose round
 * index is m mod members (disjoint trajectory shares, RLDT.md §5), or, when the round has fewer segments
 * than members, the transitions whose index is m mod members. Returns the count. */
static int member_rows(const ft_t *f, int nseg, int m, int *rows)
{
    int n = 0, M = f->critic.members;
    for (int s = 0; s < nseg; s++)
        for (int t = 0; t < f->T; t++) {
            int j = s * f->T + t;
            if ((nseg >= M ? s : j) % M == m && f->buf.mask[rldt_replay_step(&f->buf, f->round_segs[s], t)]) rows[n++] = j;
        }
    return n;
}

static void critic_steps(ft_t *f, int nseg, rldt_rng_t *rng, ft_stats_t *st)
{
    const rldt_backend_t *be = f->be;
    const rldt_config_t *cfg = f->cfg;
    int M = f->critic.members, B = (int)cfg->critic_batch, T = f->T, od = f->od, D = f->D;
    int start[RLDT_MAX_MEMBERS], count[RLDT_MAX_MEMBERS];
    for (int m = 0, at = 0; m < M; m++) {
        start[m] = at;
        count[m] = member_rows(f, nseg, m, f->rows + at);
        at += count[m];
    }
    rldt_adam_t opt = {0.9f, 0.999f, 1e-8f, 0.0f, true};
    for (int step = 0; step < cfg->ft_critic_steps; step++) {
        rldt_trainable_zero_grad(&f->critic.online);
        double loss = 0;
        int members_used = 0;
        for (int m = 0; m < M; m++) {
            if (!count[m]) continue;
            for (int b = 0; b < B; b++) {
                int j = f->rows[start[m] + (int)rldt_rng_below(rng, (uint32_t)count[m])];
                int s = f->round_segs[j / T], t = j % T;
                memcpy(f->s_obs + (size_t)b * od, rldt_replay_obs(&f->buf, s, t), sizeof(float) * od);
                memcpy(f->s_act + (size_t)b * D, rldt_replay_act(&f->buf, s, t), sizeof(float) * D);
                f->s_tgt[b] = f->G[j];
            }
            be->upload(f->u_obs, f->s_obs, sizeof(float) * (size_t)B * od);
            be->upload(f->u_act, f->s_act, sizeof(float) * (size_t)B * D);
            be->upload(f->u_tgt, f->s_tgt, sizeof(float) * (size_t)B);
            loss += rldt_critic_accumulate(&f->critic, m, f->u_obs, f->u_act, f->u_tgt, B);
            members_used++;
        }
        if (!members_used) break;
        float norm = isfinite(loss) ? rldt_trainable_step(&f->critic.online, &opt, (float)cfg->critic_lr, 0.0f) : NAN;
        if (!isfinite(norm)) { /* rldt_trainable_step does not step on a non-finite gradient */
            if (!ft_skip(f, st, FT_CRITIC)) break;
            continue;
        }
        ft_ok(f, FT_CRITIC);
        rldt_critic_polyak(&f->critic, (float)cfg->critic_polyak);
        st->critic_loss += loss / members_used;
        st->critic_n++;
    }
}

// ---------------------------------------------------------------------------------------------------
// actor

/* States for actor step `u`: every step (mask 1) of every P-th segment of the round, starting at u mod P
 * (RLDT.md §4; the stride is the segment count when a round has fewer than P), at most actor.states of them
 * (a uniform subset when there are more). Returns the count; each state's observation goes P times into
 * s_obs. */
static int actor_states(ft_t *f, int nseg, long u, rldt_rng_t *rng)
{
    int T = f->T, od = f->od, cap = (int)f->cfg->actor_states, n = 0, stride = f->P < nseg ? f->P : nseg;
    int *rows = f->rows;
    if (stride < 1) return 0;
    for (int s = (int)((unsigned long)u % (unsigned long)stride); s < nseg; s += stride) /* u >= 0: restore checks it */
        for (int t = 0; t < T; t++)
            if (f->buf.mask[rldt_replay_step(&f->buf, f->round_segs[s], t)]) rows[n++] = s * T + t;
    int S = n < cap ? n : cap;
    for (int i = 0; i < S; i++) { /* partial Fisher-Yates: a uniform subset */
        int j = i + (int)rldt_rng_below(rng, (uint32_t)(n - i)), tmp = rows[i];
        rows[i] = rows[j];
        rows[j] = tmp;
        for (int p = 0; p < f->P; p++)
            memcpy(f->s_obs + ((size_t)i * f->P + p) * od, rldt_replay_obs(&f->buf, f->round_segs[rows[i] / T], rows[i] % T),
                   sizeof(float) * od);
    }
    return S;
}

static void actor_step(ft_t *f, int nseg, ft_stats_t *st)
{
    const rldt_backend_t *be = f->be;
    const rldt_config_t *cfg = f->cfg;
    int P = f->P, K = f->K, D = f->D;
    rldt_rng_t rng;
    rldt_rng_init(&rng, (uint64_t)cfg->run_seed, rldt_rng_stream_id(RLDT_STREAM_TRAIN, 3, (uint32_t)f->actor_updates));
    int S = actor_states(f, nseg, f->actor_updates++, &rng); /* the offset rotates even when a step is empty */
    if (S == 0) return;
    int N = S * P;
    size_t nx = (size_t)N * D;
    be->upload(f->u_obs, f->s_obs, sizeof(float) * (size_t)N * f->od);
    /* particles: P full chains per state, no gradient; a = x_K (unclipped) */
    be->fill_normal(f->u_chain, nx, rng.seed, rng.stream, rldt_rng_claim(&rng, nx));
    rldt_policy_sample(&f->pol, f->actor.p, f->u_obs, N, f->u_chain, f->u_chain);
    const float *a = f->u_chain + (size_t)K * nx;
    rldt_critic_action_grad(&f->critic, f->u_obs, a, N, f->u_g);
    /* one uniformly drawn step k per particle; its velocity (with gradient) and expected target a†_k */
    for (int n = 0; n < N; n++) {
        f->s_k[n] = (int)rldt_rng_below(&rng, (uint32_t)K);
        f->s_t[n] = (float)f->s_k[n] / (float)K;
    }
    be->upload(f->u_k, f->s_k, sizeof(int) * (size_t)N);
    be->upload(f->u_t, f->s_t, sizeof(float) * (size_t)N);
    be->chain_select(f->u_xk, f->u_chain, f->u_k, N, D);
    rldt_trainable_zero_grad(&f->actor);
    const float *v = rldt_policy_forward(&f->pol, f->actor.p, f->u_xk, f->u_t, f->u_obs, N);
    be->expected_target(f->u_at, f->u_xk, v, f->u_t, N, D);
    /* the transport field at the expected targets */
    if (f->delta_kernel) {
        rldt_critic_action_grad(&f->critic, f->u_obs, f->u_at, N, f->u_phi);
    } else {
        be->svgd_field(f->u_phi, f->u_h, f->u_alpha, f->u_at, a, f->u_g, S, P, P, D, (float)cfg->svgd_tau);
    }
    double lt = 0, lc = 0;
    be->actor_grad(f->u_dv, &lt, &lc, v, f->u_phi, a, f->u_xk, f->u_t, N, D, K, (float)cfg->actor_c_cons);
    rldt_policy_backward(&f->pol, f->actor.p, f->actor.g, f->u_dv);
    /* regulariser toward v_ref at x~ = (1 - t~) eps + t~ a with t~ uniform on {0, 1/K, ..., (K-1)/K} */
    for (int n = 0; n < N; n++) f->s_t[n] = (float)rldt_rng_below(&rng, (uint32_t)K) / (float)K;
    be->upload(f->u_t, f->s_t, sizeof(float) * (size_t)N);
    be->fill_normal(f->u_tmp, nx, rng.seed, rng.stream, rldt_rng_claim(&rng, nx));
    be->flow_pair(f->u_x, f->u_at, a, f->u_tmp, f->u_t, N, D); /* the path velocity lands in u_at: unused */
    be->copy(f->u_ref, rldt_policy_forward(&f->pol, f->vref, f->u_x, f->u_t, f->u_obs, N), sizeof(float) * nx);
    const float *v2 = rldt_policy_forward(&f->pol, f->actor.p, f->u_x, f->u_t, f->u_obs, N);
    double lreg = cfg->actor_c_reg * D * be->mse(v2, f->u_ref, f->u_dv, nx); /* mse is per element: x D per particle */
    be->scale(f->u_dv, (float)(cfg->actor_c_reg * D), nx);
    rldt_policy_backward(&f->pol, f->actor.p, f->actor.g, f->u_dv);

    rldt_adam_t opt = {0.9f, 0.999f, 1e-8f, 0.0f, false};
    float warm = cfg->actor_warmup > 0 && f->actor_updates < cfg->actor_warmup ? (float)(f->actor_updates + 1) / (float)cfg->actor_warmup : 1.0f;
    bool finite = isfinite(lt) && isfinite(lc) && isfinite(lreg);
    float norm = finite ? rldt_trainable_step(&f->actor, &opt, (float)cfg->actor_lr * warm, 0.0f) : NAN;
    if (!isfinite(norm)) {
        ft_skip(f, st, FT_ACTOR);
        return;
    }
    ft_ok(f, FT_ACTOR);
    /* statistics: mean |phi| per particle, mean bandwidth, mean alpha */
    be->download(f->s_phi, f->u_phi, sizeof(float) * nx);
    double phin = 0;
    for (int n = 0; n < N; n++) {
        double s2 = 0;
        for (int d = 0; d < D; d++) s2 += (double)f->s_phi[(size_t)n * D + d] * f->s_phi[(size_t)n * D + d];
        phin += sqrt(s2) / N;
    }
    if (!f->delta_kernel) {
        be->download(f->s_h, f->u_h, sizeof(float) * (size_t)N);
        be->download(f->s_alpha, f->u_alpha, sizeof(float) * (size_t)S);
        double h = 0, al = 0;
        for (int n = 0; n < N; n++) h += f->s_h[n] / N;
        for (int s = 0; s < S; s++) al += f->s_alpha[s] / S;
        st->bandwidth += h;
        st->alpha += al;
    }
    st->transport += lt;
    st->consist += lc;
    st->reg += lreg;
    st->phi_norm += phin;
    st->actor_n++;
}

void ft_round(ft_t *f, int fresh, int round, ft_stats_t *st)
{
    const rldt_config_t *cfg = f->cfg;
    rldt_rng_t rng;
    rldt_rng_init(&rng, (uint64_t)cfg->run_seed,
                  rldt_rng_stream_id(RLDT_STREAM_TRAIN, 2, (uint32_t)(f->itr * cfg->ft_q_repeat + round)));
    int nseg = cfg->ft_batch_segments > 0 ? (int)cfg->ft_batch_segments : f->n_envs;
    if (nseg > f->buf.count) nseg = f->buf.count;
    rldt_replay_sample(&f->buf, fresh, nseg, cfg->ft_new_fraction, &rng, f->round_segs);
    bootstrap(f, nseg, &rng);
    targets(f, nseg);
    critic_steps(f, nseg, &rng, st);
    if (f->itr > cfg->ft_critic_warmup)
        for (int i = 0; i < cfg->ft_actor_steps; i++) actor_step(f, nseg, st);
}
