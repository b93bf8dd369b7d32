/* finetune_ppo.c — the PPO baseline (finetune.algo=ppo): PPO through the denoising chain, DPPO-style
 * (rldt/ppo.h). It shares RLDT's loop, envs, rollout bookkeeping (rewards, sparse increments, masks,
 * dropped segments), evaluation and checkpoints (finetune.c, finetune_rollout.c) and replaces the rest:
 *
 * - acting: every denoising step adds N(0, ppo.sigma² I) (ft_ppo_act), and the rollout keeps each step's
 *   chain and the log-density of its noise;
 * - learning, once per rollout, on-policy: V(s) and V(s') of the rollout's steps, GAE(ppo.gae_lambda)
 *   advantages (normalised over the rollout's masked steps), then ppo.epochs passes over the samples in
 *   shuffled minibatches of ppo.minibatch: the value network on its targets (MSE, critic.lr), and, once the
 *   iteration index exceeds finetune.critic_warmup, the actor on the clipped surrogate of every
 *   (step, denoising step) sample (actor.lr with actor.warmup). No regulariser toward v_ref: the clip is
 *   PPO's trust region.
 *
 * The per-sample surrogate and the advantages are computed on the host from the downloaded velocities (a
 * baseline, not a hot path); the networks' forward and backward run on the backend. Metrics: loss_transport
 * holds the surrogate loss, critic_loss the value loss, phi_norm the approximate KL (mean log π_old − log π)
 * and alpha the fraction of clipped samples.
 *
 * With data parallelism each rank learns from its own rollout: the advantages are normalised by the world's
 * mean and deviation, and every rank takes as many minibatch steps as the rank with the most masked steps
 * (a rank that has run out joins the rest with a zero gradient), so that the ranks' steps pair up. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "rldt/comm.h"
#include "rldt/log.h"
#include "rldt/ppo.h"

void rldt_gae(float *adv, float *ret, const float *r, const float *v, const float *vnext, const uint8_t *terminal,
              const uint8_t *ended, int T, float gamma, float lambda, double r_div)
{
    double next = 0.0; /* A_{t+1} */
    for (int t = T - 1; t >= 0; t--) {
        double ahead = (t == T - 1 || ended[t]) ? 0.0 : next;
        double delta = (double)(float)(r[t] / r_div) + (terminal[t] ? 0.0 : (double)gamma * vnext[t]) - v[t];
        next = delta + (double)gamma * lambda * ahead;
        adv[t] = (float)next;
        ret[t] = (float)(next + v[t]);
    }
}

float rldt_ppo_logp(const float *xk, const float *xnext, const float *v, int D, int K, float sigma)
{
    double s = 0.0;
    for (int d = 0; d < D; d++) {
        double z = ((double)xnext[d] - xk[d] - (double)v[d] / K) / sigma;
        s += z * z;
    }
    return (float)(-0.5 * s);
}

double rldt_ppo_sample(float *dv, float *ratio, const float *xk, const float *xnext, const float *v, int D, int K,
                       float sigma, float logp_old, float adv, float clip, float w)
{
    double rho = exp((double)rldt_ppo_logp(xk, xnext, v, D, K, sigma) - logp_old);
    double lo = 1.0 - clip, hi = 1.0 + clip, clipped = rho < lo ? lo : (rho > hi ? hi : rho);
    double unclipped_term = rho * adv, clipped_term = clipped * adv;
    bool active = unclipped_term <= clipped_term; /* the unclipped term is the minimum: it carries the gradient */
    double c = active ? -(double)w * adv * rho / ((double)sigma * K) : 0.0;
    for (int d = 0; d < D; d++) dv[d] = (float)(c * (((double)xnext[d] - xk[d] - (double)v[d] / K) / sigma));
    *ratio = (float)rho;
    return -(double)w * (active ? unclipped_term : clipped_term);
}

// ---------------------------------------------------------------------------------------------------
// set-up

/* Host staging of a minibatch: x_k [mb][D], t [mb], obs [mb][od], v [mb][D], dv [mb][D], targets [mb]. */
static float *stage(ft_t *f, int part)
{
    size_t mb = (size_t)f->max_batch, D = (size_t)f->D, od = (size_t)f->od;
    size_t at[] = {0, mb * D, mb * (D + 1), mb * (D + 1 + od), mb * (2 * D + 1 + od), mb * (3 * D + 1 + od)};
    return f->ppo_stage + at[part];
}
enum { ST_X, ST_T, ST_OBS, ST_V, ST_DV, ST_TGT };

rldt_status_t ft_ppo_init(ft_t *f)
{
    const rldt_config_t *cfg = f->cfg;
    rldt_mlp_spec_t spec = {f->od, 1, (int)cfg->critic_width, (int)cfg->critic_depth, false, RLDT_ACT_SILU, false, RLDT_INIT_TORCH};
    rldt_status_t st = rldt_mlp_init(&f->v_net, &spec, f->max_batch, f->be);
    if (st) return st;
    float *init = rldt_xmalloc(sizeof(float) * f->v_net.nparams);
    rldt_rng_t rng;
    rldt_rng_init(&rng, (uint64_t)cfg->run_seed, rldt_rng_stream_id(RLDT_STREAM_INIT, 3, 0));
    rldt_mlp_init_params(&f->v_net, init, &rng);
    st = rldt_trainable_init(&f->value, f->be, f->v_net.nparams, init);
    free(init);
    size_t steps = (size_t)f->T * f->n_envs, K = (size_t)f->K, D = (size_t)f->D, mb = (size_t)f->max_batch;
    f->ppo_chain = rldt_xmalloc(sizeof(float) * steps * (K + 1) * D);
    f->ppo_logp = rldt_xmalloc(sizeof(float) * steps * K);
    f->ppo_adv = rldt_xmalloc(sizeof(float) * steps * 4);
    f->ppo_seg = rldt_xmalloc(sizeof(float) * (size_t)f->T * 5);
    f->ppo_flags = rldt_xmalloc((size_t)f->T * 2);
    f->ppo_stage = rldt_xmalloc(sizeof(float) * mb * (3 * D + 2 + (size_t)f->od));
    f->ppo_order = rldt_xmalloc(sizeof(int) * steps * K);
    return st;
}

void ft_ppo_free(ft_t *f)
{
    if (f->value.p) rldt_trainable_free(&f->value);
    if (f->v_net.ops) rldt_mlp_free(&f->v_net);
    free(f->ppo_chain), free(f->ppo_logp), free(f->ppo_adv), free(f->ppo_seg), free(f->ppo_flags), free(f->ppo_stage), free(f->ppo_order);
}

// ---------------------------------------------------------------------------------------------------
// acting

void ft_ppo_act(ft_t *f, rldt_rng_t *rng, int t)
{
    const rldt_backend_t *be = f->be;
    int n = f->n_envs, D = f->D, K = f->K;
    size_t nx = (size_t)n * D;
    float sigma = (float)f->cfg->ppo_sigma, *noise = stage(f, ST_V); /* n <= max_batch rows */
    float *chain = f->ppo_chain + (size_t)t * (K + 1) * nx, *logp = f->ppo_logp + (size_t)t * K * n;
    be->upload(f->r_obs, f->h_obs, sizeof(float) * (size_t)n * f->od);
    be->fill_normal(f->r_chain, nx, rng->seed, rng->stream, rldt_rng_claim(rng, nx));
    for (int k = 0; k < K; k++) {
        float *x = f->r_chain + (size_t)k * nx;
        be->fill(f->r_t, (float)k / (float)K, (size_t)n);
        const float *v = rldt_policy_forward(&f->pol, f->actor.p, x, f->r_t, f->r_obs, n);
        be->euler_step(x + nx, x, v, 1.0f / (float)K, nx);
        be->fill_normal(f->r_noise, nx, rng->seed, rng->stream, rldt_rng_claim(rng, nx));
        be->axpy(x + nx, sigma, f->r_noise, nx);
        be->download(noise, f->r_noise, sizeof(float) * nx);
        for (int i = 0; i < n; i++) { /* log π of the step: −‖ε‖²/2, z = ε by construction */
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)noise[(size_t)i * D + d] * noise[(size_t)i * D + d];
            logp[(size_t)k * n + i] = (float)(-0.5 * s);
        }
    }
    be->download(chain, f->r_chain, sizeof(float) * (size_t)(K + 1) * nx);
    const float *a = chain + (size_t)K * nx;
    for (size_t j = 0; j < nx; j++) f->h_exec[j] = a[j] < -1.0f ? -1.0f : (a[j] > 1.0f ? 1.0f : a[j]);
    rldt_policy_act(&f->pol, f->h_exec, f->h_act, n * f->pol.spec.chunk);
}

// ---------------------------------------------------------------------------------------------------
// learning

/* The rollout's step (t, env i) as a row index t*n + i and as a buffer row. */
static size_t buf_row(const ft_t *f, int ri) { return rldt_replay_step(&f->buf, f->slots[ri % f->n_envs], ri / f->n_envs); }

/* V of the rollout's states (next = false) or next states (true) into out [T*n] (row order t*n + i). */
static void values(ft_t *f, bool next, float *out)
{
    const rldt_backend_t *be = f->be;
    int rows = f->T * f->n_envs, od = f->od;
    float *obs = stage(f, ST_OBS);
    for (int start = 0; start < rows; start += f->max_batch) {
        int B = rows - start < f->max_batch ? rows - start : f->max_batch;
        for (int b = 0; b < B; b++) {
            size_t row = buf_row(f, start + b);
            memcpy(obs + (size_t)b * od, (next ? f->buf.next_obs : f->buf.obs) + row * od, sizeof(float) * od);
        }
        be->upload(f->u_obs, obs, sizeof(float) * (size_t)B * od);
        be->download(out + start, rldt_mlp_forward(&f->v_net, f->value.p, f->u_obs, B), sizeof(float) * (size_t)B);
    }
}

/* Advantages (normalised over the masked steps, every rank's) and value targets of the rollout; returns the
 * number of masked steps of the world. */
static int advantages(ft_t *f)
{
    const rldt_config_t *cfg = f->cfg;
    int n = f->n_envs, T = f->T, rows = T * n;
    float *adv = f->ppo_adv, *ret = adv + rows, *v = ret + rows, *vnext = v + rows;
    values(f, false, v);
    values(f, true, vnext);
    float *r = f->ppo_seg, *sv = r + T, *svn = sv + T, *sa = svn + T, *sr = sa + T; /* one env's segment */
    uint8_t *term = f->ppo_flags, *ended = term + T;
    double r_div = f->sparse ? 1.0 : rldt_reward_scaler_divisor(&f->scaler);
    for (int i = 0; i < n; i++) {
        for (int t = 0; t < T; t++) {
            size_t row = buf_row(f, t * n + i);
            r[t] = f->buf.rew[row];
            term[t] = cfg->critic_bootstrap_truncated ? f->buf.term[row] : f->buf.ended[row];
            ended[t] = f->buf.ended[row];
            sv[t] = v[t * n + i];
            svn[t] = vnext[t * n + i];
        }
        rldt_gae(sa, sr, r, sv, svn, term, ended, T, (float)cfg->critic_gamma, (float)cfg->ppo_gae_lambda, r_div);
        for (int t = 0; t < T; t++) adv[t * n + i] = sa[t], ret[t * n + i] = sr[t];
    }
    double world[3] = {0, 0, 0}; /* sum, sum of squares, count */
    for (int ri = 0; ri < rows; ri++)
        if (f->buf.mask[buf_row(f, ri)]) world[0] += adv[ri], world[1] += (double)adv[ri] * adv[ri], world[2]++;
    rldt_comm_sum(world, 3);
    double s = world[0], s2 = world[1];
    int m = (int)world[2];
    double mean = m ? s / m : 0, sd = m > 1 ? sqrt(fmax(s2 / m - mean * mean, 0) * m / (m - 1)) : 1;
    for (int ri = 0; ri < rows; ri++) adv[ri] = (float)((adv[ri] - mean) / (sd + 1e-8));
    return m;
}

/* Shuffles order[0..n) in place (Fisher-Yates). */
static void shuffle(int *order, int n, rldt_rng_t *rng)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rldt_rng_below(rng, (uint32_t)(i + 1)), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

/* One value step on the rollout rows rows[0..B) (B <= 0: this rank's zero gradient in the ranks' step). */
static void value_step(ft_t *f, const int *rows, int B, ft_stats_t *st)
{
    const rldt_backend_t *be = f->be;
    int od = f->od, nrows = f->T * f->n_envs;
    float *obs = stage(f, ST_OBS), *tgt = stage(f, ST_TGT), *ret = f->ppo_adv + nrows;
    rldt_trainable_zero_grad(&f->value);
    double loss = 0;
    if (B > 0) {
        for (int b = 0; b < B; b++) {
            memcpy(obs + (size_t)b * od, f->buf.obs + buf_row(f, rows[b]) * od, sizeof(float) * od);
            tgt[b] = ret[rows[b]];
        }
        be->upload(f->u_obs, obs, sizeof(float) * (size_t)B * od);
        be->upload(f->u_tgt, tgt, sizeof(float) * (size_t)B);
        const float *pred = rldt_mlp_forward(&f->v_net, f->value.p, f->u_obs, B);
        loss = be->mse(pred, f->u_tgt, f->u_h, (size_t)B);
        rldt_mlp_backward(&f->v_net, f->value.p, f->value.g, f->u_h, NULL);
    }
    rldt_adam_t opt = {0.9f, 0.999f, 1e-8f, 0.0f, true};
    /* a non-finite loss makes the gradient NaN: the ranks' mean is then NaN on every rank, and all skip */
    if (!isfinite(loss)) be->fill(f->value.g, NAN, f->value.n);
    float norm = rldt_trainable_step(&f->value, &opt, (float)f->cfg->critic_lr, 0.0f);
    if (!isfinite(norm)) {
        ft_skip(f, st, FT_CRITIC);
        return;
    }
    ft_ok(f, FT_CRITIC);
    if (B > 0) {
        st->critic_loss += loss;
        st->critic_n++;
    }
}

/* Per-step norms of a minibatch's surrogate gradient (finetune.step_grad_freq): for each k, the gradient of
 * the samples at denoising step k alone (the last forward is the minibatch's). */
static void surrogate_step_norms(ft_t *f, const int *samples, int B, double *norms)
{
    int D = f->D, K = f->K;
    float *dv = stage(f, ST_DV), *only = stage(f, ST_V); /* the velocities are consumed by now */
    for (int k = 0; k < K; k++) {
        for (int b = 0; b < B; b++)
            for (int d = 0; d < D; d++) only[(size_t)b * D + d] = samples[b] % K == k ? dv[(size_t)b * D + d] : 0.0f;
        f->be->upload(f->u_tmp, only, sizeof(float) * (size_t)B * D);
        norms[k] = rldt_policy_grad_norm(&f->pol, f->actor.p, f->u_tmp, f->u_sgrad);
    }
}

/* One actor step on the samples samples[0..B) (sample j: rollout row j / K, denoising step j % K; B <= 0:
 * this rank's zero gradient in the ranks' step). */
static void actor_step(ft_t *f, const int *samples, int B, ft_stats_t *st)
{
    const rldt_backend_t *be = f->be;
    const rldt_config_t *cfg = f->cfg;
    int n = f->n_envs, D = f->D, K = f->K, od = f->od;
    size_t nx = (size_t)n * D;
    float *x = stage(f, ST_X), *tt = stage(f, ST_T), *obs = stage(f, ST_OBS), *v = stage(f, ST_V), *dv = stage(f, ST_DV);
    const float *adv = f->ppo_adv;
    for (int b = 0; b < B; b++) {
        int ri = samples[b] / K, k = samples[b] % K, t = ri / n, i = ri % n;
        memcpy(x + (size_t)b * D, f->ppo_chain + ((size_t)t * (K + 1) + k) * nx + (size_t)i * D, sizeof(float) * D);
        tt[b] = (float)k / (float)K;
        memcpy(obs + (size_t)b * od, f->buf.obs + buf_row(f, ri) * od, sizeof(float) * od);
    }
    long u = f->actor_updates++;
    if (B <= 0) {
        rldt_trainable_zero_grad(&f->actor);
        ft_actor_apply(f, st, true);
        return;
    }
    double *norms = NULL;
    if (cfg->ft_step_grad_freq > 0 && u % cfg->ft_step_grad_freq == 0) {
        f->sg_update[f->sg_n] = u;
        norms = f->sg_norm + (size_t)f->sg_n++ * K;
    }
    be->upload(f->u_xk, x, sizeof(float) * (size_t)B * D);
    be->upload(f->u_t, tt, sizeof(float) * (size_t)B);
    be->upload(f->u_obs, obs, sizeof(float) * (size_t)B * od);
    rldt_trainable_zero_grad(&f->actor);
    be->download(v, rldt_policy_forward(&f->pol, f->actor.p, f->u_xk, f->u_t, f->u_obs, B), sizeof(float) * (size_t)B * D);
    double loss = 0, kl = 0;
    int clipped = 0;
    float sigma = (float)cfg->ppo_sigma, clip = (float)cfg->ppo_clip;
    for (int b = 0; b < B; b++) {
        int ri = samples[b] / K, k = samples[b] % K, t = ri / n, i = ri % n;
        const float *xk = x + (size_t)b * D, *xnext = f->ppo_chain + ((size_t)t * (K + 1) + k + 1) * nx + (size_t)i * D;
        float ratio, logp_old = f->ppo_logp[((size_t)t * K + k) * n + i];
        loss += rldt_ppo_sample(dv + (size_t)b * D, &ratio, xk, xnext, v + (size_t)b * D, D, K, sigma, logp_old, adv[ri], clip,
                                1.0f / (float)B);
        kl -= log(ratio) / B;
        clipped += fabsf(ratio - 1.0f) > clip;
    }
    be->upload(f->u_dv, dv, sizeof(float) * (size_t)B * D);
    rldt_policy_backward(&f->pol, f->actor.p, f->actor.g, f->u_dv);
    if (norms) surrogate_step_norms(f, samples, B, norms);
    if (!ft_actor_apply(f, st, isfinite(loss))) return;
    st->transport += loss;
    st->phi_norm += kl;
    st->alpha += (double)clipped / B;
    st->actor_n++;
}

void ft_ppo_update(ft_t *f, ft_stats_t *st)
{
    const rldt_config_t *cfg = f->cfg;
    int K = f->K, rows = f->T * f->n_envs, mb = (int)cfg->ppo_minibatch;
    rldt_rng_t rng;
    rldt_rng_init(&rng, rldt_comm_seed((uint64_t)cfg->run_seed), rldt_rng_stream_id(RLDT_STREAM_TRAIN, 4, (uint32_t)f->itr));
    if (advantages(f) == 0) return;
    int *order = f->ppo_order, nrows = 0, nsamples;
    bool actor = f->itr > cfg->ft_critic_warmup;
    for (int e = 0; e < cfg->ppo_epochs && !ft_stopped(f); e++) {
        nrows = 0;
        for (int ri = 0; ri < rows; ri++)
            if (f->buf.mask[buf_row(f, ri)]) order[nrows++] = ri;
        shuffle(order, nrows, &rng);
        double most = nrows; /* the ranks step together: as many steps as the rank with the most rows */
        rldt_comm_max(&most, 1);
        for (int s = 0; s < (int)most && !ft_stopped(f); s += mb) value_step(f, order + s, nrows - s < mb ? nrows - s : mb, st);
        if (!actor) continue;
        nsamples = 0;
        for (int ri = 0; ri < rows; ri++)
            if (f->buf.mask[buf_row(f, ri)])
                for (int k = 0; k < K; k++) order[nsamples++] = ri * K + k;
        shuffle(order, nsamples, &rng);
        most = nsamples;
        rldt_comm_max(&most, 1);
        for (int s = 0; s < (int)most && !ft_stopped(f); s += mb)
            actor_step(f, order + s, nsamples - s < mb ? nsamples - s : mb, st);
    }
}
