/* finetune_update.c — one round of RLDT updates: bootstrap actions for a batch of segments, critic steps on
 * their TD(λ) targets (re-evaluated with the current target networks at every step, as the reference does,
 * or once per round: critic.target_refresh), then actor steps on the transport loss (RLDT.md §3–5, §7), or
 * on the BPTT baseline's (finetune_bptt.c; the parts both share are here). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "rldt/comm.h"
#include "rldt/log.h"

// ---------------------------------------------------------------------------------------------------
// critic
//
// The round's transitions stay where the backend computes: the host picks rows (from the buffer's flags,
// which it keeps) and uploads their indices; gathers, bootstrap values, TD(λ) targets and minibatches are
// backend ops on the buffer's device copy (f->d_*).

/* Draws the round's bootstrap actions: M policy samples a' ~ π(.|s') per next state of the round's segments,
 * kept in f->u_boot ([M][round steps][D]) for all of the round's critic steps (RLDT.md §5). The round's
 * rows (round order) go to d_round and its segments' first rows to d_segrows. */
static void draw_bootstrap_actions(ft_t *f, int nseg, rldt_rng_t *rng)
{
    const rldt_backend_t *be = f->be;
    int T = f->T, D = f->D, M = (int)f->cfg->critic_samples, total = nseg * T;
    for (int j = 0; j < total; j++) f->rows[j] = (int)rldt_replay_step(&f->buf, f->round_segs[j / T], j % T);
    be->upload(f->d_round, f->rows, sizeof(int) * (size_t)total);
    for (int s = 0; s < nseg; s++) f->rows[s] = (int)rldt_replay_step(&f->buf, f->round_segs[s], 0);
    be->upload(f->d_segrows, f->rows, sizeof(int) * (size_t)nseg);
    for (int start = 0; start < total; start += f->max_batch) {
        int B = total - start < f->max_batch ? total - start : f->max_batch;
        ft_gather_obs(f, f->u_obs, f->d_next, f->d_round + start, B, 1, true);
        ft_encode_actor(f, f->actor.p, f->u_obs, B, NULL);
        for (int m = 0; m < M; m++) {
            float *x = f->u_boot + ((size_t)m * total + start) * D;
            size_t nx = (size_t)B * D;
            be->fill_normal(x, nx, rng->seed, rng->stream, rldt_rng_claim(rng, nx));
            rldt_policy_sample(&f->pol, f->actor.p, f->u_obs, B, x, NULL);
        }
    }
}

/* TD(λ) targets of the round's segments into f->d_G (by buffer row), with the target networks as they are
 * now: Q̄(s') over the round's bootstrap actions (into f->u_qnext, round order), rewards scaled on dense
 * tasks, Q̄ clipped to [q_min, q_max]. Terminal steps: the task's, and also truncations unless
 * critic.bootstrap_truncated (the authors' rule: done = terminated or truncated, i.e. the ended flags). */
static void targets(ft_t *f, int nseg)
{
    const rldt_backend_t *be = f->be;
    const rldt_config_t *cfg = f->cfg;
    int D = f->D, M = (int)cfg->critic_samples, total = nseg * f->T;
    for (int start = 0; start < total; start += f->max_batch) {
        int B = total - start < f->max_batch ? total - start : f->max_batch;
        ft_gather_obs(f, f->u_obs, f->d_next, f->d_round + start, B, 1, true);
        rldt_critic_encode(&f->critic, true, f->u_img, B, NULL);
        rldt_critic_bootstrap(&f->critic, ft_critic_obs(f, f->u_obs), f->u_boot + (size_t)start * D, M, (size_t)total * D, B,
                              f->u_qnext + start, f->u_tmp);
    }
    double r_div = f->sparse ? 1.0 : rldt_reward_scaler_divisor(&f->scaler);
    be->td_lambda(f->d_G, f->d_rew, cfg->critic_bootstrap_truncated ? f->d_term : f->d_ended, f->d_ended, f->u_qnext,
                  f->d_segrows, nseg, f->T, (float)cfg->critic_gamma, (float)cfg->critic_lambda, r_div, (float)cfg->critic_q_min,
                  (float)cfg->critic_q_max);
}

/* Buffer rows of member m's transitions, with mask 1: the segments whose round index is m mod members
 * (disjoint trajectory shares, RLDT.md §5), or, when the round has fewer segments than members, the
 * transitions whose round index (segment * T + t) is m mod members. Returns the count. */
static int member_rows(const ft_t *f, int nseg, int m, int *rows)
{
    int n = 0, M = f->critic.members;
    for (int s = 0; s < nseg; s++)
        for (int t = 0; t < f->T; t++) {
            int j = s * f->T + t, row = (int)rldt_replay_step(&f->buf, f->round_segs[s], t);
            if ((nseg >= M ? s : j) % M == m && f->buf.mask[row]) rows[n++] = row;
        }
    return n;
}

static void critic_steps(ft_t *f, int nseg, rldt_rng_t *rng, ft_stats_t *st)
{
    const rldt_backend_t *be = f->be;
    const rldt_config_t *cfg = f->cfg;
    int M = f->critic.members, B = (int)cfg->critic_batch, D = f->D;
    int start[RLDT_MAX_MEMBERS], count[RLDT_MAX_MEMBERS], at = 0;
    for (int m = 0; m < M; m++) {
        start[m] = at;
        count[m] = member_rows(f, nseg, m, f->rows + at);
        at += count[m];
    }
    be->upload(f->d_rows, f->rows, sizeof(int) * (size_t)at);
    /* the members in use are those with rows on any rank (data parallelism: a rank without rows for one adds
     * a zero gradient to the mean); every rank then takes the same steps */
    double world[RLDT_MAX_MEMBERS];
    int members_used = 0;
    for (int m = 0; m < M; m++) world[m] = count[m];
    rldt_comm_sum(world, M);
    for (int m = 0; m < M; m++) members_used += world[m] > 0;
    if (!members_used) return;
    rldt_adam_t opt = {0.9f, 0.999f, 1e-8f, 0.0f, true};
    bool every_step = strcmp(cfg->critic_target_refresh, "step") == 0;
    for (int step = 0; step < cfg->ft_critic_steps; step++) {
        if (every_step || step == 0) targets(f, nseg);
        rldt_trainable_zero_grad(&f->critic.online);
        double loss = 0;
        int mine = 0; /* members with rows on this rank */
        for (int m = 0; m < M; m++) {
            if (!count[m]) continue;
            /* B rows drawn uniformly (with replacement) from the member's, gathered on the backend */
            be->draw_index(f->u_idx, NULL, 0, f->d_rows + start[m], 0, (uint32_t)count[m], (size_t)B, rng->seed, rng->stream,
                           rldt_rng_claim(rng, (size_t)B));
            ft_gather_obs(f, f->u_obs, f->d_obs, f->u_idx, B, 1, false);
            rldt_critic_encode(&f->critic, false, f->u_img, B, rng); /* shifted, as the actor's training batches */
            be->gather_rows(f->u_act, f->d_act, f->u_idx, B, D, 1);
            be->gather_rows(f->u_tgt, f->d_G, f->u_idx, B, 1, 1);
            loss += rldt_critic_accumulate(&f->critic, m, ft_critic_obs(f, f->u_obs), f->u_act, f->u_tgt, B);
            mine++;
        }
        /* a non-finite loss makes the gradient NaN: the ranks' mean is then NaN on every rank, and all skip */
        if (!isfinite(loss)) be->fill(f->critic.online.g, NAN, f->critic.online.n);
        float norm = rldt_trainable_step(&f->critic.online, &opt, (float)cfg->critic_lr, 0.0f);
        if (!isfinite(norm)) { /* rldt_trainable_step does not step on a non-finite gradient */
            if (!ft_skip(f, st, FT_CRITIC)) break;
            continue;
        }
        ft_ok(f, FT_CRITIC);
        rldt_critic_polyak(&f->critic, (float)cfg->critic_polyak);
        if (mine) {
            st->critic_loss += loss / mine;
            st->critic_n++;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// actor

/* States for actor step `u`: every step (mask 1) of every P-th segment of the round, starting at u mod P
 * (RLDT.md §4; the stride is the segment count when a round has fewer than P), at most actor.states of them
 * (a uniform subset when there are more). Their buffer rows go to d_rows; returns the count. */
static int actor_states(ft_t *f, int nseg, long u, rldt_rng_t *rng)
{
    int T = f->T, cap = (int)f->cfg->actor_states, n = 0, stride = f->P < nseg ? f->P : nseg;
    int *rows = f->rows;
    if (stride < 1) return 0;
    for (int s = (int)((unsigned long)u % (unsigned long)stride); s < nseg; s += stride) /* u >= 0: restore checks it */
        for (int t = 0; t < T; t++) {
            int row = (int)rldt_replay_step(&f->buf, f->round_segs[s], t);
            if (f->buf.mask[row]) rows[n++] = row;
        }
    int S = n < cap ? n : cap;
    for (int i = 0; i < S; i++) { /* partial Fisher-Yates: a uniform subset */
        int j = i + (int)rldt_rng_below(rng, (uint32_t)(n - i)), tmp = rows[i];
        rows[i] = rows[j];
        rows[j] = tmp;
    }
    f->be->upload(f->d_rows, rows, sizeof(int) * (size_t)S);
    return S;
}

int ft_actor_begin(ft_t *f, int nseg, ft_stats_t *st, rldt_rng_t *rng, double **norms)
{
    const rldt_backend_t *be = f->be;
    const rldt_config_t *cfg = f->cfg;
    long u = f->actor_updates++; /* the offset rotates even when a step is empty */
    rldt_rng_init(rng, rldt_comm_seed((uint64_t)cfg->run_seed), rldt_rng_stream_id(RLDT_STREAM_TRAIN, 3, (uint32_t)u));
    int N = actor_states(f, nseg, u, rng) * f->P;
    *norms = NULL;
    double world = N;
    rldt_comm_sum(&world, 1);
    if (N == 0) {
        /* no states here: with data parallelism, a zero gradient joins the ranks' step when another rank has
         * some (the counters and the skip decision stay the same everywhere) */
        if (world > 0) {
            rldt_trainable_zero_grad(&f->actor);
            ft_actor_apply(f, st, true);
        }
        return 0;
    }
    if (cfg->ft_step_grad_freq > 0 && u % cfg->ft_step_grad_freq == 0) {
        f->sg_update[f->sg_n] = u;
        *norms = f->sg_norm + (size_t)f->sg_n++ * f->K;
    }
    size_t nx = (size_t)N * f->D;
    ft_gather_obs(f, f->u_obs, f->d_obs, f->d_rows, N, f->P, false); /* each state once per particle */
    if (f->img_bytes) {
        /* v_ref's rows: its own encoder's features of the same shifted images (a copy of the stream draws the
         * same shifts); then the actor's, whose forward the encoder's backward follows */
        rldt_rng_t same = *rng;
        be->copy(f->u_oref, f->u_obs, sizeof(float) * (size_t)N * f->pin);
        ft_encode_actor(f, f->vref, f->u_oref, N, &same);
        ft_encode_actor(f, f->actor.p, f->u_obs, N, rng);
        be->fill(f->u_dfeat, 0.0f, (size_t)N * f->px.F);
        rldt_critic_encode(&f->critic, false, f->u_img, N, NULL);
    }
    /* particles: P full chains per state, no gradient; a = x_K (unclipped) */
    be->fill_normal(f->u_chain, nx, rng->seed, rng->stream, rldt_rng_claim(rng, nx));
    rldt_policy_sample(&f->pol, f->actor.p, f->u_obs, N, f->u_chain, f->u_chain);
    rldt_trainable_zero_grad(&f->actor);
    return N;
}

double ft_actor_regulariser(ft_t *f, const float *a, int N, rldt_rng_t *rng)
{
    const rldt_backend_t *be = f->be;
    const rldt_config_t *cfg = f->cfg;
    int K = f->K, D = f->D;
    size_t nx = (size_t)N * D;
    /* at x~ = (1 - t~) eps + t~ a with t~ uniform on {0, 1/K, ..., (K-1)/K} */
    be->draw_index(NULL, f->u_t, K, NULL, 0, (uint32_t)K, (size_t)N, rng->seed, rng->stream, rldt_rng_claim(rng, (size_t)N));
    be->fill_normal(f->u_tmp, nx, rng->seed, rng->stream, rldt_rng_claim(rng, nx));
    be->flow_pair(f->u_x, f->u_at, a, f->u_tmp, f->u_t, N, D); /* the path velocity lands in u_at: unused */
    be->copy(f->u_ref, rldt_policy_forward(&f->pol, f->vref, f->u_x, f->u_t, f->img_bytes ? f->u_oref : f->u_obs, N),
             sizeof(float) * nx);
    const float *v = rldt_policy_forward(&f->pol, f->actor.p, f->u_x, f->u_t, f->u_obs, N);
    double lreg = cfg->actor_c_reg * D * be->mse(v, f->u_ref, f->u_dv, nx); /* mse is per element: x D per particle */
    be->scale(f->u_dv, (float)(cfg->actor_c_reg * D), nx);
    rldt_policy_backward(&f->pol, f->actor.p, f->actor.g, f->u_dv);
    ft_feature_grad(f, N);
    return lreg;
}

bool ft_actor_apply(ft_t *f, ft_stats_t *st, bool finite)
{
    const rldt_config_t *cfg = f->cfg;
    rldt_adam_t opt = {0.9f, 0.999f, 1e-8f, 0.0f, false};
    float warm = cfg->actor_warmup > 0 && f->actor_updates < cfg->actor_warmup ? (float)(f->actor_updates + 1) / (float)cfg->actor_warmup : 1.0f;
    /* a non-finite loss makes the gradient NaN: the ranks' mean is then NaN on every rank, and all skip */
    if (!finite) f->be->fill(f->actor.g, NAN, f->actor.n);
    float norm = rldt_trainable_step(&f->actor, &opt, (float)cfg->actor_lr * warm, 0.0f);
    if (!isfinite(norm)) {
        ft_skip(f, st, FT_ACTOR);
        return false;
    }
    ft_ok(f, FT_ACTOR);
    return true;
}

/* Per-step norms of the transport + consistency gradient (finetune.step_grad_freq): for each k, the gradient
 * of the particles whose drawn step is k, i.e. dv with every other row zeroed. chain_select builds that row
 * mask from a chain of zeros holding dv in slot k (slots 0..K-1 of the particle chains are free once x_k is
 * selected; slot K, the particles, is left alone). */
static void transport_step_norms(ft_t *f, int N, double *norms)
{
    const rldt_backend_t *be = f->be;
    size_t nx = (size_t)N * f->D;
    be->fill(f->u_chain, 0.0f, (size_t)f->K * nx);
    for (int k = 0; k < f->K; k++) {
        float *slot = f->u_chain + (size_t)k * nx;
        be->copy(slot, f->u_dv, sizeof(float) * nx);
        be->chain_select(f->u_tmp, f->u_chain, f->u_k, N, f->D);
        be->fill(slot, 0.0f, nx);
        norms[k] = rldt_policy_grad_norm(&f->pol, f->actor.p, f->u_tmp, f->u_sgrad);
    }
}

/* One RLDT actor update: the transport + consistency loss at one drawn step per particle (RLDT.md §3-4). */
static void actor_step(ft_t *f, int nseg, ft_stats_t *st)
{
    const rldt_backend_t *be = f->be;
    const rldt_config_t *cfg = f->cfg;
    int P = f->P, K = f->K, D = f->D;
    rldt_rng_t rng;
    double *norms;
    int N = ft_actor_begin(f, nseg, st, &rng, &norms), S = N / P;
    if (N == 0) return;
    size_t nx = (size_t)N * D;
    const float *a = f->u_chain + (size_t)K * nx;
    const float *cobs = ft_critic_obs(f, f->u_obs); /* the critic's features of these rows: ft_actor_begin's */
    rldt_critic_action_grad(&f->critic, cobs, a, N, f->u_g);
    /* one uniformly drawn step k per particle (t = k/K); its velocity (with gradient) and expected target a†_k */
    be->draw_index(f->u_k, f->u_t, K, NULL, 0, (uint32_t)K, (size_t)N, rng.seed, rng.stream, rldt_rng_claim(&rng, (size_t)N));
    be->chain_select(f->u_xk, f->u_chain, f->u_k, N, D);
    const float *v = rldt_policy_forward(&f->pol, f->actor.p, f->u_xk, f->u_t, f->u_obs, N);
    be->expected_target(f->u_at, f->u_xk, v, f->u_t, N, D);
    /* the transport field at the expected targets */
    if (f->delta_kernel) {
        rldt_critic_action_grad(&f->critic, cobs, f->u_at, N, f->u_phi);
    } else {
        be->svgd_field(f->u_phi, f->u_h, f->u_alpha, f->u_at, a, f->u_g, S, P, P, D, (float)cfg->svgd_tau);
    }
    double lt = 0, lc = 0;
    be->actor_grad(f->u_dv, &lt, &lc, v, f->u_phi, a, f->u_xk, f->u_t, N, D, K, (float)cfg->actor_c_cons);
    rldt_policy_backward(&f->pol, f->actor.p, f->actor.g, f->u_dv);
    ft_feature_grad(f, N);
    if (norms) transport_step_norms(f, N, norms);
    double lreg = ft_actor_regulariser(f, a, N, &rng);
    ft_encoder_backward(f);
    if (!ft_actor_apply(f, st, isfinite(lt) && isfinite(lc) && isfinite(lreg))) return;
    /* statistics (sums on the backend, scalars to the host): the root-mean-square |phi| over particles, the
     * mean bandwidth, the mean alpha */
    st->phi_norm += sqrt(be->sumsq(f->u_phi, nx) / N);
    if (!f->delta_kernel) {
        st->bandwidth += be->sum(f->u_h, (size_t)N) / N;
        st->alpha += be->sum(f->u_alpha, (size_t)S) / S;
    }
    st->transport += lt;
    st->consist += lc;
    st->reg += lreg;
    st->actor_n++;
}

void ft_round(ft_t *f, int fresh, int round, ft_stats_t *st)
{
    const rldt_config_t *cfg = f->cfg;
    rldt_rng_t rng;
    rldt_rng_init(&rng, rldt_comm_seed((uint64_t)cfg->run_seed),
                  rldt_rng_stream_id(RLDT_STREAM_TRAIN, 2, (uint32_t)(f->itr * cfg->ft_q_repeat + round)));
    int nseg = f->round_segs_max < f->buf.count ? f->round_segs_max : f->buf.count;
    rldt_replay_sample(&f->buf, fresh, nseg, cfg->ft_new_fraction, &rng, f->round_segs);
    draw_bootstrap_actions(f, nseg, &rng);
    critic_steps(f, nseg, &rng, st);
    void (*step)(ft_t *, int, ft_stats_t *) = f->algo == FT_BPTT ? ft_bptt_step : actor_step;
    if (f->itr > cfg->ft_critic_warmup)
        for (int i = 0; i < cfg->ft_actor_steps; i++) step(f, nseg, st);
}
