/* finetune.c — the RLDT fine-tuning loop: set-up, iterations, metrics, checkpoints (see rldt/finetune.h;
 * the rollout is in finetune_rollout.c, the critic/actor round in finetune_update.c). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../io/durable.h"
#include "finetune_internal.h"
#include "rldt/checkpoint.h"
#include "rldt/comm.h"
#include "rldt/log.h"
#include "rldt/metrics.h"
#include "rldt/path.h"
#include "rldt/pretrain.h"

bool ft_skip(ft_t *f, ft_stats_t *st, int kind)
{
    st->skipped++;
    f->skipped++;
    f->run_of_skips[kind]++;
    static const char *const what[] = {"critic loss or gradient: update", "actor loss or gradient: update",
                                       "data in every segment: rollout"};
    rldt_warn("iteration %ld: non-finite %s skipped (%ld in a row)", f->itr, what[kind], f->run_of_skips[kind]);
    return f->run_of_skips[kind] < f->cfg->ft_max_skips;
}

void ft_ok(ft_t *f, int kind) { f->run_of_skips[kind] = 0; }

bool ft_stopped(const ft_t *f)
{
    for (int k = 0; k < 3; k++)
        if (f->run_of_skips[k] >= f->cfg->ft_max_skips) return true;
    return false;
}

/* Updates one rollout makes at most under config c: actor updates (actor), else critic steps (PPO: value
 * steps). */
static int64_t updates_per_rollout(const ft_t *f, const rldt_config_t *c, bool actor)
{
    if (f->algo == FT_PPO) {
        int64_t rows = (int64_t)f->n_envs * f->T, samples = actor ? rows * f->K : rows;
        return c->ppo_epochs * ((samples + c->ppo_minibatch - 1) / c->ppo_minibatch);
    }
    return c->ft_q_repeat * (actor ? c->ft_actor_steps : c->ft_critic_steps);
}

// ---------------------------------------------------------------------------------------------------
// buffers

static rldt_status_t alloc_all(ft_t *f)
{
    const rldt_backend_t *be = f->be;
    size_t n = (size_t)f->n_envs, mb = (size_t)f->max_batch, D = (size_t)f->D, od = (size_t)f->od, K = (size_t)f->K;
    size_t seg = (size_t)f->buf.capacity, steps = seg * (size_t)f->T, rsteps = (size_t)f->round_segs_max * (size_t)f->T;
    size_t M = (size_t)f->cfg->critic_samples;
    f->mirrored = be != rldt_backend_cpu();
    struct {
        void **p;
        size_t bytes;
    } dev[] = {{(void **)&f->r_obs, n * od}, {(void **)&f->r_chain, (K + 1) * n * D}, {(void **)&f->r_xk, n * D},
               {(void **)&f->r_t, n}, {(void **)&f->r_at, n * D}, {(void **)&f->r_noise, n * D}, {(void **)&f->r_exec, n * D},
               {(void **)&f->u_obs, mb * od}, {(void **)&f->u_act, mb * D}, {(void **)&f->u_tgt, mb}, {(void **)&f->u_x, mb * D},
               {(void **)&f->u_chain, (K + 1) * mb * D}, {(void **)&f->u_g, mb * D}, {(void **)&f->u_xk, mb * D},
               {(void **)&f->u_t, mb}, {(void **)&f->u_at, mb * D}, {(void **)&f->u_phi, mb * D}, {(void **)&f->u_h, mb},
               {(void **)&f->u_alpha, mb}, {(void **)&f->u_dv, mb * D}, {(void **)&f->u_ref, mb * D}, {(void **)&f->u_tmp, mb * D},
               {(void **)&f->vref, f->actor.n}, {(void **)&f->pretrained, f->actor.n}, {(void **)&f->d_G, steps},
               {(void **)&f->u_qnext, rsteps}, {(void **)&f->r_k, n}, {(void **)&f->u_k, mb}, {(void **)&f->u_idx, mb},
               {(void **)&f->d_rows, steps}, {(void **)&f->d_segrows, seg}, {(void **)&f->d_round, rsteps},
               {(void **)&f->u_boot, M * rsteps * D}, {(void **)&f->u_sgrad, f->actor.n}};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) /* every entry is 4-byte floats or ints */
        if (!(*dev[i].p = be->alloc(4 * dev[i].bytes))) return rldt_error_set(RLDT_ERR, "finetune: out of %s memory", be->name);
    if (f->mirrored) {
        struct {
            void **p;
            size_t bytes;
        } mirror[] = {{(void **)&f->d_obs, sizeof(float) * steps * od}, {(void **)&f->d_next, sizeof(float) * steps * od},
                      {(void **)&f->d_act, sizeof(float) * steps * D}, {(void **)&f->d_rew, sizeof(float) * steps},
                      {(void **)&f->d_term, steps}, {(void **)&f->d_ended, steps}};
        for (size_t i = 0; i < sizeof mirror / sizeof mirror[0]; i++)
            if (!(*mirror[i].p = be->alloc(mirror[i].bytes))) return rldt_error_set(RLDT_ERR, "finetune: out of %s memory", be->name);
    } else {
        f->d_obs = f->buf.obs, f->d_next = f->buf.next_obs, f->d_act = f->buf.act, f->d_rew = f->buf.rew;
        f->d_term = f->buf.term, f->d_ended = f->buf.ended;
    }
    f->h_obs = rldt_xmalloc(sizeof(float) * n * od);
    f->h_exec = rldt_xmalloc(sizeof(float) * n * D);
    f->h_act = rldt_xmalloc(sizeof(float) * n * D);
    rldt_vecenv_out_alloc(f->venv, &f->out);
    f->seen_success = rldt_xcalloc(n, 1);
    f->prev_raw = rldt_xcalloc(n, sizeof(float));
    f->ep_ret = rldt_xcalloc(n, sizeof(float));
    f->round_segs = rldt_xmalloc(sizeof(int) * seg);
    f->rows = rldt_xmalloc(sizeof(int) * steps);
    f->slots = rldt_xmalloc(sizeof(int) * n);
    f->bad = rldt_xmalloc(n);
    f->rewards = rldt_xmalloc(sizeof(float) * n * (size_t)f->T);
    size_t logged = (size_t)updates_per_rollout(f, f->cfg, true); /* per iteration, at most */
    f->sg_norm = rldt_xmalloc(sizeof(double) * logged * K);
    f->sg_update = rldt_xmalloc(sizeof(long) * logged);
    return RLDT_OK;
}

void ft_mirror(ft_t *f, int first, int n)
{
    if (!f->mirrored) return;
    const rldt_backend_t *be = f->be;
    const rldt_replay_t *b = &f->buf;
    for (int done = 0; done < n;) { /* at most two contiguous runs: up to the end of the buffer, then from 0 */
        int s = (first + done) % b->capacity, run = n - done < b->capacity - s ? n - done : b->capacity - s;
        size_t row = rldt_replay_step(b, s, 0), rows = (size_t)run * b->T, od = (size_t)b->obs_dim, D = (size_t)b->D;
        be->upload(f->d_obs + row * od, b->obs + row * od, sizeof(float) * rows * od);
        be->upload(f->d_next + row * od, b->next_obs + row * od, sizeof(float) * rows * od);
        be->upload(f->d_act + row * D, b->act + row * D, sizeof(float) * rows * D);
        be->upload(f->d_rew + row, b->rew + row, sizeof(float) * rows);
        be->upload(f->d_term + row, b->term + row, rows);
        be->upload(f->d_ended + row, b->ended + row, rows);
        done += run;
    }
}

static void free_all(ft_t *f)
{
    const rldt_backend_t *be = f->be;
    void *dev[] = {f->r_obs, f->r_chain, f->r_xk, f->r_t, f->r_at, f->r_noise, f->r_exec, f->r_k, f->u_obs, f->u_act,
                   f->u_tgt, f->u_x, f->u_chain, f->u_g, f->u_xk, f->u_t, f->u_at, f->u_phi, f->u_h, f->u_alpha, f->u_dv,
                   f->u_ref, f->u_tmp, f->u_k, f->u_idx, f->vref, f->pretrained, f->d_G, f->u_qnext, f->d_rows, f->d_segrows, f->d_round, f->u_boot,
                   f->u_sgrad};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) be->free(dev[i]);
    if (f->mirrored) {
        void *mirror[] = {f->d_obs, f->d_next, f->d_act, f->d_rew, f->d_term, f->d_ended};
        for (size_t i = 0; i < sizeof mirror / sizeof mirror[0]; i++)
            if (mirror[i]) be->free(mirror[i]);
    }
    void *host[] = {f->h_obs, f->h_exec, f->h_act, f->seen_success, f->prev_raw, f->ep_ret, f->round_segs, f->rows, f->slots, f->bad, f->rewards,
                    f->sg_norm, f->sg_update};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
    if (f->out.obs) rldt_vecenv_out_free(&f->out);
    if (f->critic.net.ops) rldt_critic_free(&f->critic);
    if (f->actor.p) rldt_trainable_free(&f->actor);
    if (f->pol.ws) rldt_policy_free(&f->pol);
    if (f->buf.obs) rldt_replay_free(&f->buf);
    rldt_vecenv_destroy(f->venv);
    ft_ppo_free(f);
}

// ---------------------------------------------------------------------------------------------------
// checkpoints: everything a bit-exact resume needs
//
// With data parallelism the ranks share the networks, their moments and the counters, and each has its own
// envs and replay buffer. A checkpoint (rank 0 writes it) holds the shared state once and the world's envs
// and buffers, laid out as one rank with all the envs would hold them: env e = rank * env.n_envs + i, and in
// the buffer, rollout block b (env.n_envs segments per rank) holds the ranks' segments of that rollout in
// rank order (so a one-rank checkpoint is what it always was). Any world size whose ranks split the envs and
// the buffer evenly resumes it (W x env.n_envs and W x finetune.buffer_segments as when it was written); on the
// world size that wrote it, bit for bit.

/* One piece of the training state as it goes into a checkpoint. */
typedef enum { ON_DEVICE, HOST_FLOATS, HOST_BYTES } place_t;
typedef struct {
    const char *name;
    void *ptr;
    size_t n;     /* elements (on this rank) */
    place_t place; /* ON_DEVICE: shared by the ranks; HOST_*: the rank's own */
    size_t units; /* HOST_*: the buffer's slots or the envs the n elements are for */
} piece_t;

/* The tensors of the training state (the env snapshot and the scalars are handled beside them). */
static int pieces(ft_t *f, piece_t *t)
{
    size_t na = f->actor.n, nc = f->critic.online.n;
    rldt_replay_t *b = &f->buf;
    size_t steps = (size_t)b->capacity * b->T, envs = (size_t)f->n_envs;
    int n = 0;
    t[n++] = (piece_t){RLDT_POLICY_WEIGHTS, f->actor.p, na, ON_DEVICE, 0};
    t[n++] = (piece_t){"policy/ref", f->vref, na, ON_DEVICE, 0};
    t[n++] = (piece_t){"policy/pretrained", f->pretrained, na, ON_DEVICE, 0};
    t[n++] = (piece_t){"actor/m", f->actor.m, na, ON_DEVICE, 0};
    t[n++] = (piece_t){"actor/v", f->actor.v, na, ON_DEVICE, 0};
    t[n++] = (piece_t){"critic/online", f->critic.online.p, nc, ON_DEVICE, 0};
    t[n++] = (piece_t){"critic/target", f->critic.target, nc, ON_DEVICE, 0};
    t[n++] = (piece_t){"critic/m", f->critic.online.m, nc, ON_DEVICE, 0};
    t[n++] = (piece_t){"critic/v", f->critic.online.v, nc, ON_DEVICE, 0};
    size_t slots = (size_t)b->capacity;
    t[n++] = (piece_t){"replay/obs", b->obs, steps * b->obs_dim, HOST_FLOATS, slots};
    t[n++] = (piece_t){"replay/next_obs", b->next_obs, steps * b->obs_dim, HOST_FLOATS, slots};
    t[n++] = (piece_t){"replay/act", b->act, steps * b->D, HOST_FLOATS, slots};
    t[n++] = (piece_t){"replay/rew", b->rew, steps, HOST_FLOATS, slots};
    t[n++] = (piece_t){"replay/term", b->term, steps, HOST_BYTES, slots};
    t[n++] = (piece_t){"replay/ended", b->ended, steps, HOST_BYTES, slots};
    t[n++] = (piece_t){"replay/success", b->success, steps, HOST_BYTES, slots};
    t[n++] = (piece_t){"replay/mask", b->mask, steps, HOST_BYTES, slots};
    t[n++] = (piece_t){"rollout/seen_success", f->seen_success, envs, HOST_BYTES, envs};
    t[n++] = (piece_t){"rollout/episode_return", f->ep_ret, envs, HOST_FLOATS, envs};
    t[n++] = (piece_t){"rollout/previous_reward", f->prev_raw, envs, HOST_FLOATS, envs};
    if (f->algo == FT_PPO) {
        size_t nv = f->value.n;
        t[n++] = (piece_t){"ppo/value", f->value.p, nv, ON_DEVICE, 0};
        t[n++] = (piece_t){"ppo/value_m", f->value.m, nv, ON_DEVICE, 0};
        t[n++] = (piece_t){"ppo/value_v", f->value.v, nv, ON_DEVICE, 0};
    }
    return n;
}

/* Bytes of one element of a piece in host memory. */
static size_t elem_size(const piece_t *p) { return p->place == HOST_BYTES ? 1 : sizeof(float); }

/* Copies rank r's share of a rank-owned piece between `mine` (this rank's layout, p->n elements) and
 * `world` (the checkpoint's, W times as many): blocks of env.n_envs units, block k of rank r at block
 * k * W + r of the world. (On one rank the layouts are the same: no copy is made.) */
static void world_layout(const ft_t *f, const piece_t *p, uint8_t *world, uint8_t *mine, int r, bool to_world)
{
    int W = rldt_comm_world()->size;
    size_t bytes = p->n * elem_size(p);
    size_t chunk = bytes / p->units * (size_t)f->n_envs, blocks = bytes / chunk;
    for (size_t k = 0; k < blocks; k++) {
        uint8_t *w = world + (k * (size_t)W + (size_t)r) * chunk, *m = mine + k * chunk;
        memcpy(to_world ? w : m, to_world ? m : w, chunk);
    }
}

/* A counter of the training state (stored as an int64 scalar) and the largest value it can hold. */
typedef struct {
    const char *name;
    long *value;
    int64_t max;
} counter_t;

/* The counters that follow from the rollouts done (env_steps and skipped count the world's): itr,
 * replay_pushed and replay_count (the world's too) are stored beside them and checked first. The bounds (for
 * restore) hold after `rollouts` rollouts under the larger of the run's config and `was`, the config the
 * checkpoint was written with (a resumed run may change q_repeat or the step counts); pass rollouts = 0 and
 * was = cfg when only the names and values are needed. */
static int counters(ft_t *f, counter_t *t, int64_t rollouts, const rldt_config_t *was)
{
    const rldt_config_t *cfg = f->cfg;
    int64_t actor = rollouts * (updates_per_rollout(f, cfg, true) > updates_per_rollout(f, was, true) ? updates_per_rollout(f, cfg, true)
                                                                                                      : updates_per_rollout(f, was, true));
    int64_t critic = rollouts * (updates_per_rollout(f, cfg, false) > updates_per_rollout(f, was, false) ? updates_per_rollout(f, cfg, false)
                                                                                                         : updates_per_rollout(f, was, false));
    int64_t segments = rollouts * f->n_envs * rldt_comm_world()->size; /* the world's */
    int n = 0;
    t[n++] = (counter_t){"actor_updates", &f->actor_updates, actor};
    t[n++] = (counter_t){"actor_adam_step", &f->actor.step, actor};
    t[n++] = (counter_t){"critic_adam_step", &f->critic.online.step, f->algo == FT_PPO ? 0 : critic};
    t[n++] = (counter_t){"env_steps", &f->env_steps, segments * f->T * f->pol.spec.chunk};
    t[n++] = (counter_t){"reward_updates", &f->scaler.updates, rollouts};
    t[n++] = (counter_t){"skipped", &f->skipped, segments + actor + critic};
    t[n++] = (counter_t){"critic_skips_in_a_row", &f->run_of_skips[FT_CRITIC], critic};
    t[n++] = (counter_t){"actor_skips_in_a_row", &f->run_of_skips[FT_ACTOR], actor};
    t[n++] = (counter_t){"rollout_skips_in_a_row", &f->run_of_skips[FT_ROLLOUT], rollouts};
    if (f->algo == FT_PPO) t[n++] = (counter_t){"value_adam_step", &f->value.step, critic};
    return n;
}

#define MAX_PIECES 32

/* Writes the run's state to `path`: a collective (every rank calls it; rank 0 gathers the ranks' envs and
 * buffers and writes). Every rank returns the same status. */
static rldt_status_t save(ft_t *f, const char *path)
{
    const rldt_comm_t *w = rldt_comm_world();
    int W = w->size;
    rldt_status_t st = w->rank == 0 ? rldt_config_check_output(f->cfg, path, "checkpoint", true) : RLDT_OK; /* never over an input */
    const rldt_backend_t *be = f->be;
    piece_t p[MAX_PIECES];
    int np = pieces(f, p);
    rldt_ckpt_tensor_t t[MAX_PIECES + 8];
    void *copies[MAX_PIECES] = {0};
    for (int i = 0; i < np; i++) {
        size_t bytes = p[i].n * elem_size(&p[i]);
        if (p[i].place == ON_DEVICE) {
            if (w->rank != 0) continue; /* the same on every rank */
            copies[i] = rldt_xmalloc(bytes ? bytes : 1);
            be->download(copies[i], p[i].ptr, bytes);
        } else if (W > 1) { /* the ranks' own, gathered (rank 0 holds them all, in rank order) and laid out as the world's */
            uint8_t *all = w->rank == 0 ? rldt_xmalloc(bytes * W + 1) : NULL;
            rldt_comm_gather(p[i].ptr, all, bytes);
            if (w->rank == 0) {
                copies[i] = rldt_xmalloc(bytes * W + 1);
                for (int r = 0; r < W; r++) world_layout(f, &p[i], copies[i], all + (size_t)r * bytes, r, true);
            }
            free(all);
        }
        const void *data = W == 1 && p[i].place != ON_DEVICE ? p[i].ptr : copies[i];
        t[i] = (rldt_ckpt_tensor_t){p[i].name, data, p[i].place == ON_DEVICE ? p[i].n : p[i].n * W, p[i].place == HOST_BYTES};
    }
    int nt = np + rldt_policy_norm_tensors(&f->pol, t + np);
    size_t env_bytes = rldt_vecenv_snapshot_size(f->venv);
    uint8_t *env = rldt_xmalloc(env_bytes), *envs = w->rank == 0 ? rldt_xmalloc(env_bytes * W) : NULL;
    rldt_vecenv_snapshot(f->venv, env);
    rldt_comm_gather(env, envs, env_bytes); /* the ranks' snapshots back to back (rldt_vecenv_restore_part) */
    t[nt++] = (rldt_ckpt_tensor_t){"rollout/envs", envs, env_bytes * W, 1};
    counter_t cs[16];
    int nc = counters(f, cs, 0, f->cfg);
    rldt_ckpt_scalar_t s[24];
    for (int i = 0; i < nc; i++) s[i] = (rldt_ckpt_scalar_t){cs[i].name, *cs[i].value};
    s[nc++] = (rldt_ckpt_scalar_t){"itr", f->itr};
    s[nc++] = (rldt_ckpt_scalar_t){"replay_pushed", f->buf.pushed * W};
    int64_t scale_bits;
    memcpy(&scale_bits, &f->scaler.mean_abs, sizeof scale_bits);
    s[nc++] = (rldt_ckpt_scalar_t){"reward_mean_abs_bits", scale_bits};
    s[nc++] = (rldt_ckpt_scalar_t){"replay_count", (int64_t)f->buf.count * W};
    s[nc++] = (rldt_ckpt_scalar_t){"obs_dim", f->od};
    s[nc++] = (rldt_ckpt_scalar_t){"act_dim", f->spec->act_dim};
    if (!st && w->rank == 0) {
        char *json = rldt_config_to_json(f->cfg);
        st = rldt_ckpt_save(path, "finetune", json, t, nt, s, nc);
        free(json);
    }
    free(env), free(envs);
    for (int i = 0; i < np; i++) free(copies[i]);
    double failed = st != RLDT_OK; /* rank 0's outcome, on every rank */
    rldt_comm_sum(&failed, 1);
    if (failed && !st) st = rldt_error_set(RLDT_ERR, "rank 0 could not write the checkpoint %s (its log says why)", path);
    return st;
}

/* Reads and checks every counter of a finetune checkpoint before any is used: each against the run's
 * config, the buffer it indexes and the counters it depends on (the checksum catches damage; this catches
 * a file edited with a valid checksum, or written by a buggy build). `was`: the checkpoint's own config. */
static rldt_status_t restore_counters(ft_t *f, rldt_ckpt_t *c, const rldt_config_t *was)
{
    const char *path = rldt_ckpt_path(c);
    int W = rldt_comm_world()->size;
    int64_t itr = 0, pushed = 0, count, v, bits = 0, envs = (int64_t)f->n_envs * W, capacity = (int64_t)f->buf.capacity * W;
    rldt_status_t st = rldt_ckpt_scalar_in(c, "itr", 0, f->cfg->ft_iterations, &itr);
    if (!st) st = rldt_ckpt_scalar_in(c, "replay_pushed", 0, itr * envs, &pushed); /* the world's, as is the count */
    if (!st && pushed % envs) /* every rollout pushes one segment per env */
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: scalar 'replay_pushed' is %lld, not a multiple of the %lld envs", path,
                            (long long)pushed, (long long)envs);
    int64_t fill = pushed < capacity ? pushed : capacity;
    if (!st) st = rldt_ckpt_scalar_in(c, "replay_count", fill, fill, &count);
    counter_t cs[16];
    int nc = st ? 0 : counters(f, cs, pushed / envs, was);
    for (int i = 0; i < nc && !st; i++)
        if (!(st = rldt_ckpt_scalar_in(c, cs[i].name, 0, cs[i].max, &v))) *cs[i].value = (long)v;
    if (!st && f->actor.step > f->actor_updates) /* Adam steps only on actor updates that went through */
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: scalar 'actor_adam_step' is %ld, more than the %ld actor updates",
                            path, f->actor.step, f->actor_updates);
    for (int k = 0; k < 3 && !st; k++)
        if (f->run_of_skips[k] > f->skipped)
            st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: %ld skips in a row, more than the %ld skipped in all", path,
                                f->run_of_skips[k], f->skipped);
    if (!st) st = rldt_ckpt_scalar(c, "reward_mean_abs_bits", &bits);
    if (st) return st;
    double mean_abs;
    memcpy(&mean_abs, &bits, sizeof mean_abs);
    if (!isfinite(mean_abs) || mean_abs < 0)
        return rldt_error_set(RLDT_ERR_USAGE,
                              "checkpoint %s: scalar 'reward_mean_abs_bits' holds the running mean |r| %g (must be finite, >= 0)", path,
                              mean_abs);
    f->itr = (long)itr;
    f->buf.pushed = (long)(pushed / W);
    f->buf.count = (int)(count / W);
    f->scaler.mean_abs = mean_abs;
    return RLDT_OK;
}

/* Whether the checkpoint's envs and buffer split evenly over this world as its env.n_envs and buffer size
 * say (see "checkpoints" above); the message names the keys that would make them fit. */
static rldt_status_t check_world(const ft_t *f, rldt_ckpt_t *c)
{
    int W = rldt_comm_world()->size;
    size_t envs = rldt_ckpt_length(c, "rollout/seen_success"), steps = rldt_ckpt_length(c, "replay/rew");
    size_t want_envs = (size_t)f->n_envs * W, want_steps = (size_t)f->buf.capacity * f->T * W;
    const char *path = rldt_ckpt_path(c);
    if (envs != want_envs)
        return envs % (size_t)W
                   ? rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s holds %zu envs, which %d rank(s) cannot share evenly: resume it on a number of "
                                    "ranks that divides %zu", path, envs, W, envs)
                   : rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s holds %zu envs; %d rank(s) x env.n_envs %d are %zu: resume with "
                                    "env.n_envs=%zu", path, envs, W, f->n_envs, want_envs, envs / (size_t)W);
    if (steps != want_steps) {
        size_t per = (size_t)f->T * W;
        return steps % per
                   ? rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s holds a replay buffer of %zu steps, not a whole number of %d-step "
                                    "segments per rank on %d rank(s) (finetune.n_steps must stay as it was)", path, steps, f->T, W)
                   : rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s holds a replay buffer of %zu segments; %d rank(s) x %d segments "
                                    "are %zu: resume with finetune.buffer_segments=%zu", path, steps / f->T, W, f->buf.capacity,
                                    want_steps / f->T, steps / per);
    }
    return RLDT_OK;
}

/* Restores the whole training state from a finetune checkpoint into an initialised run: the shared state
 * on every rank, and each rank's share of the envs and the buffer. */
static rldt_status_t restore(ft_t *f, rldt_ckpt_t *c, const rldt_config_t *was)
{
    const rldt_backend_t *be = f->be;
    const rldt_comm_t *w = rldt_comm_world();
    piece_t p[MAX_PIECES];
    int np = pieces(f, p);
    rldt_status_t st = check_world(f, c);
    if (!st) st = restore_counters(f, c, was);
    for (int i = 0; i < np && !st; i++) {
        size_t n = p[i].place == ON_DEVICE ? p[i].n : p[i].n * w->size, bytes = n * elem_size(&p[i]);
        bool direct = p[i].place != ON_DEVICE && w->size == 1; /* this rank's layout is the checkpoint's */
        uint8_t *h = direct ? p[i].ptr : rldt_xmalloc(bytes ? bytes : 1);
        if (p[i].place == HOST_BYTES) {
            st = rldt_ckpt_read_bytes(c, p[i].name, h, n);
            for (size_t j = 0; j < n && !st; j++)
                if (h[j] > 1)
                    st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' holds %d at %zu (a flag: 0 or 1)",
                                        rldt_ckpt_path(c), p[i].name, h[j], j);
        } else {
            st = rldt_ckpt_read(c, p[i].name, (float *)h, n);
        }
        if (!st && p[i].place == ON_DEVICE) be->upload(p[i].ptr, h, bytes);
        if (!st && p[i].place != ON_DEVICE && !direct) world_layout(f, &p[i], h, p[i].ptr, w->rank, false);
        if (!direct) free(h);
    }
    if (!st) {
        size_t env_bytes = rldt_ckpt_length(c, "rollout/envs");
        uint8_t *env = rldt_xmalloc(env_bytes ? env_bytes : 1);
        st = rldt_ckpt_read_bytes(c, "rollout/envs", env, env_bytes);
        if (!st) st = rldt_vecenv_restore_part(f->venv, env, env_bytes, w->rank * f->n_envs);
        free(env);
    }
    if (!st) ft_mirror(f, 0, f->buf.capacity);
    return st;
}

// ---------------------------------------------------------------------------------------------------
// set-up

static rldt_status_t setup(ft_t *f, rldt_config_t *cfg, const rldt_env_spec_t *spec, const rldt_backend_t *be)
{
    const char *from = cfg->ft_resume[0] ? cfg->ft_resume : cfg->ft_init;
    if (!from[0]) return rldt_error_set(RLDT_ERR_USAGE, "finetune needs init=CHECKPOINT (or finetune.resume=CHECKPOINT)");
    if (cfg->ft_resume[0] && spec->gym)
        return rldt_error_set(RLDT_ERR_USAGE, "finetune.resume: %s is a Gymnasium env, whose state lives in its worker processes and "
                              "is not in checkpoints, so its fine-tunes cannot resume (start a new one with init=CHECKPOINT)", spec->name);
    rldt_ckpt_t *c;
    rldt_status_t st = rldt_ckpt_open(&c, from, cfg->ft_resume[0] ? "finetune" : NULL);
    if (st) return st;
    f->cfg = cfg;
    f->spec = spec;
    f->be = be;
    f->P = (int)cfg->svgd_particles;
    f->n_envs = (int)cfg->env_n_envs;
    f->T = (int)cfg->ft_n_steps;
    f->sparse = spec->reward_kind == RLDT_REWARD_SPARSE;
    f->algo = strcmp(cfg->ft_algo, "ppo") == 0 ? FT_PPO : strcmp(cfg->ft_algo, "bptt") == 0 ? FT_BPTT : FT_RLDT;
    int actor_rows = (int)cfg->actor_states * f->P;
    f->max_batch = 1024;
    if (f->algo == FT_PPO && cfg->ppo_minibatch > f->max_batch) f->max_batch = (int)cfg->ppo_minibatch;
    if (actor_rows > f->max_batch) f->max_batch = actor_rows;
    if (cfg->critic_batch > f->max_batch) f->max_batch = (int)cfg->critic_batch;
    if (f->n_envs > f->max_batch) f->max_batch = f->n_envs;
    /* the policy's shape comes from the checkpoint; the run's config records it */
    rldt_config_t from_cfg;
    st = rldt_policy_from_ckpt(c, &from_cfg, &f->pol, f->max_batch, be);
    if (!st && (spec->obs_dim != f->pol.spec.obs_dim || spec->act_dim != f->pol.spec.act_dim))
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: policy for obs %d / act %d cannot drive %s (obs %d / act %d)", from,
                            f->pol.spec.obs_dim, f->pol.spec.act_dim, spec->name, spec->obs_dim, spec->act_dim);
    if (st) {
        rldt_ckpt_close(c);
        return st;
    }
    cfg->policy_chunk = from_cfg.policy_chunk;
    cfg->policy_k = from_cfg.policy_k;
    cfg->policy_width = from_cfg.policy_width;
    cfg->policy_blocks = from_cfg.policy_blocks;
    cfg->policy_layernorm = from_cfg.policy_layernorm;
    cfg->policy_time_dim = from_cfg.policy_time_dim;
    memcpy(cfg->policy_act, from_cfg.policy_act, sizeof cfg->policy_act);
    f->od = f->pol.spec.obs_dim;
    f->D = f->pol.spec.D;
    f->K = f->pol.spec.K;
    float *w = rldt_xmalloc(sizeof(float) * f->pol.nparams);
    st = rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, w, f->pol.nparams);
    if (!st) st = rldt_trainable_init(&f->actor, be, f->pol.nparams, w);
    free(w);
    rldt_rng_t rng;
    rldt_rng_init(&rng, (uint64_t)cfg->run_seed, rldt_rng_stream_id(RLDT_STREAM_INIT, 1, 0));
    if (!st)
        st = rldt_critic_init(&f->critic, f->od, f->D, (int)cfg->critic_width, (int)cfg->critic_depth, (int)cfg->critic_members,
                              f->max_batch, be, &rng);
    int capacity = cfg->ft_buffer > 0 ? (int)cfg->ft_buffer : 20 * f->n_envs;
    if (capacity < f->n_envs || f->algo == FT_PPO) capacity = f->n_envs; /* PPO learns from the last rollout only */
    f->round_segs_max = cfg->ft_batch_segments > 0 ? (int)cfg->ft_batch_segments : f->n_envs; /* as ft_round takes them */
    if (f->round_segs_max > capacity) f->round_segs_max = capacity;
    const rldt_comm_t *world = rldt_comm_world();
    if (!st && world->size > 1 && capacity % f->n_envs) /* checkpoints lay the ranks' buffers out by whole rollouts */
        st = rldt_error_set(RLDT_ERR_USAGE, "finetune.buffer_segments %d is not a multiple of env.n_envs %d, as it must be on several ranks",
                            capacity, f->n_envs);
    if (!st) { /* each rank's envs: their episodes are seeded from (run.seed, rank, env) */
        rldt_replay_init(&f->buf, f->od, f->D, f->T, capacity);
        st = rldt_vecenv_create(&f->venv, spec, f->n_envs, (int)cfg->env_max_steps, (uint64_t)cfg->run_seed, (uint32_t)world->rank,
                                (int)cfg->run_threads);
    }
    rldt_reward_scaler_init(&f->scaler);
    if (!st) st = alloc_all(f);
    if (!st && f->algo == FT_PPO) st = ft_ppo_init(f);
    if (!st) {
        be->copy(f->vref, f->actor.p, sizeof(float) * f->actor.n);
        be->copy(f->pretrained, f->actor.p, sizeof(float) * f->actor.n);
    }
    if (!st && cfg->ft_resume[0]) st = restore(f, c, &from_cfg);
    rldt_ckpt_close(c);
    return st;
}

// ---------------------------------------------------------------------------------------------------
// the loop

/* The metrics columns, in file order. */
static const char *const metric_names[] = {"itr", "env_steps", "env_steps_per_s", "update_s", "eval_episodes",
                                           "eval_success", "eval_return", "critic_loss", "loss_transport",
                                           "loss_consist", "loss_reg", "phi_norm", "bandwidth", "alpha", "skipped"};
#define N_METRICS (sizeof metric_names / sizeof metric_names[0])

static double mean_or_nan(double sum, int n) { return n ? sum / n : NAN; }

/* The iteration's loss sums and counts, summed over the ranks (their means are then the world's); the skip
 * count is the same on every rank already. */
static void world_stats(ft_stats_t *s)
{
    double *sums[] = {&s->critic_loss, &s->transport, &s->consist, &s->reg, &s->phi_norm, &s->bandwidth, &s->alpha};
    enum { NS = sizeof sums / sizeof sums[0] };
    double v[NS + 2];
    for (int i = 0; i < NS; i++) v[i] = *sums[i];
    v[NS] = s->critic_n, v[NS + 1] = s->actor_n;
    rldt_comm_sum(v, NS + 2);
    for (int i = 0; i < NS; i++) *sums[i] = v[i];
    s->critic_n = (int)v[NS], s->actor_n = (int)v[NS + 1];
}

/* A run's metrics (rldt/metrics.h: one row per iteration) and, with finetune.step_grad_freq, step_grads.csv:
 * K rows per logged actor update. Rank 0 writes them (the other ranks' files stay closed). */
typedef struct {
    rldt_metrics_t rows;
    FILE *step_grads;
    char sg_path[RLDT_PATH_MAX + 1];
} metrics_t;
#define STEP_GRADS_HEADER "itr,actor_update,k,grad_norm"

/* Opens the metrics files for a run starting at iteration `itr` (rldt_metrics_open), and step_grads.csv
 * when `step_grads`: cut back on a resume like the others; one the run does not write is cut back too on
 * a resume, and removed on a fresh start. */
static rldt_status_t metrics_open(metrics_t *m, const char *dir, long itr, bool step_grads)
{
    if (rldt_comm_world()->rank != 0) return RLDT_OK;
    rldt_status_t st = rldt_metrics_open(&m->rows, dir, metric_names, (int)N_METRICS, itr, true);
    if (!st) st = rldt_path_format(m->sg_path, sizeof m->sg_path, "%s/step_grads.csv", dir);
    long kept = 0;
    if (!st && itr > 0) st = rldt_metrics_trim(m->sg_path, itr, STEP_GRADS_HEADER, "itr", false, &kept);
    if (!st && itr == 0 && !step_grads && unlink(m->sg_path) != 0 && errno != ENOENT)
        st = rldt_error_set(RLDT_ERR, "cannot remove the old %s: %s", m->sg_path, strerror(errno));
    if (st || !step_grads) return st;
    errno = 0;
    m->step_grads = fopen(m->sg_path, itr > 0 ? "a" : "w");
    if (!m->step_grads) return rldt_error_set(RLDT_ERR, "cannot open metrics %s: %s", m->sg_path, strerror(errno));
    if (kept == 0 && (fprintf(m->step_grads, "%s\n", STEP_GRADS_HEADER) < 0 || fflush(m->step_grads) != 0))
        return rldt_metrics_error(m->sg_path);
    return RLDT_OK;
}

static rldt_status_t metrics_close(metrics_t *m)
{
    rldt_status_t st = rldt_metrics_close(&m->rows);
    errno = 0;
    if (m->step_grads && fclose(m->step_grads) != 0 && !st) st = rldt_metrics_error(m->sg_path);
    m->step_grads = NULL;
    return st;
}

/* One row: ev is NULL on training iterations; env_sps and update_s are NaN on evaluation iterations. */
static rldt_status_t write_metrics(metrics_t *m, const ft_t *f, const ft_stats_t *s, const rldt_eval_result_t *ev,
                                   double env_sps, double update_s)
{
    double v[N_METRICS] = {(double)f->itr, (double)f->env_steps, env_sps, update_s, ev ? ev->episodes : NAN,
                           ev ? ev->success_rate : NAN, ev ? ev->return_mean : NAN, mean_or_nan(s->critic_loss, s->critic_n),
                           mean_or_nan(s->transport, s->actor_n), mean_or_nan(s->consist, s->actor_n),
                           mean_or_nan(s->reg, s->actor_n), mean_or_nan(s->phi_norm, s->actor_n),
                           mean_or_nan(s->bandwidth, s->actor_n), mean_or_nan(s->alpha, s->actor_n), (double)s->skipped};
    if (!m->rows.file[0]) return RLDT_OK; /* not rank 0 */
    return rldt_metrics_write(&m->rows, v);
}

/* The iteration's logged per-step gradient norms into step_grads.csv (when it is open), K rows per update. */
static rldt_status_t write_step_grads(metrics_t *m, ft_t *f)
{
    FILE *out = m->step_grads;
    int n = f->sg_n;
    f->sg_n = 0;
    if (!out) return RLDT_OK;
    errno = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < f->K; k++) fprintf(out, "%ld,%ld,%d,%.8g\n", f->itr, f->sg_update[i], k, f->sg_norm[(size_t)i * f->K + k]);
    return fflush(out) != 0 || ferror(out) ? rldt_metrics_error(m->sg_path) : RLDT_OK;
}

/* Rank 0 evaluates (the other ranks' *res is zero: nothing but the log and metrics read it). */
static rldt_status_t evaluate(ft_t *f, rldt_eval_result_t *res)
{
    const rldt_config_t *cfg = f->cfg;
    memset(res, 0, sizeof *res);
    if (rldt_comm_world()->rank != 0) return RLDT_OK;
    rldt_eval_opts_t o = {(int)cfg->eval_episodes, f->n_envs, (int)cfg->run_threads, cfg->eval_deterministic,
                          (uint64_t)cfg->run_seed + 1000003u * (uint64_t)(f->itr + 1), (int)cfg->env_max_steps, NULL, NULL};
    return rldt_evaluate(&f->pol, NULL, f->actor.p, f->spec, &o, res);
}

/* The ranks' networks must hold the same bits (they start from the same checkpoint and take the same
 * steps): a rank that drifted (a bug, a broken node) stops the job on every rank. */
static rldt_status_t check_agree(const ft_t *f)
{
    if (rldt_comm_agree(f->be, f->actor.p, f->actor.n) && rldt_comm_agree(f->be, f->critic.online.p, f->critic.online.n) &&
        rldt_comm_agree(f->be, f->critic.target, f->critic.online.n) &&
        (f->algo != FT_PPO || rldt_comm_agree(f->be, f->value.p, f->value.n)))
        return RLDT_OK;
    return rldt_error_set(RLDT_ERR, "iteration %ld: the ranks' parameters differ (a rank diverged, or the ranks started from "
                          "different files): stopped", f->itr);
}

rldt_status_t rldt_finetune(const rldt_config_t *cfg_in, const rldt_env_spec_t *spec, const rldt_backend_t *be,
                            rldt_finetune_result_t *res)
{
    memset(res, 0, sizeof *res);
    if (cfg_in->svgd_particles > RLDT_MAX_PARTICLES)
        return rldt_error_set(RLDT_ERR_USAGE, "svgd.particles %ld exceeds %d", cfg_in->svgd_particles, RLDT_MAX_PARTICLES);
    rldt_status_t valid = rldt_config_validate(cfg_in, "finetune config"); /* the checks across keys */
    if (valid) return valid;
    rldt_config_t cfg = *cfg_in;
    rldt_backend_cpu_threads((int)cfg.run_blas_threads);
    ft_t f;
    memset(&f, 0, sizeof f);
    rldt_status_t st = setup(&f, &cfg, spec, be);
    f.delta_kernel = strcmp(cfg.svgd_kernel, "delta") == 0;
    char dir[RLDT_PATH_MAX + 1], path[RLDT_PATH_MAX + 1];
    metrics_t metrics;
    memset(&metrics, 0, sizeof metrics);
    if (!st) st = rldt_path_format(dir, sizeof dir, "%s/%s", cfg.run_out_dir, cfg.run_name);
    if (!st) st = rldt_path_format(res->ckpt_path, sizeof res->ckpt_path, "%s/finetune.ckpt", dir);
    if (!st && rldt_comm_world()->rank == 0) st = rldt_mkdirs(dir);
    if (!st) st = metrics_open(&metrics, dir, f.itr, cfg.ft_step_grad_freq > 0);
    if (st) goto done;
    if (f.algo == FT_PPO)
        rldt_info("finetune %s from %s: algo ppo, %zu policy params, %zu value params, %d envs x %d chunk-steps, K=%d, sigma %g, "
                  "clip %g, backend %s, %s", spec->name, cfg.ft_resume[0] ? cfg.ft_resume : cfg.ft_init, f.actor.n, f.value.n, f.n_envs,
                  f.T, f.K, cfg.ppo_sigma, cfg.ppo_clip, be->name, rldt_comm_describe());
    else
        rldt_info("finetune %s from %s: algo %s, %zu policy params, %d x %zu critic params, %d envs x %d chunk-steps, P=%d, "
                  "K=%d, kernel %s, backend %s, %s", spec->name, cfg.ft_resume[0] ? cfg.ft_resume : cfg.ft_init, cfg.ft_algo, f.actor.n,
                  f.critic.members, f.critic.member_params, f.n_envs, f.T, f.P, f.K, cfg.svgd_kernel, be->name, rldt_comm_describe());
    if ((st = check_agree(&f))) goto done;
    double t_run = rldt_now();
    bool first_eval = true;
    for (; f.itr < cfg.ft_iterations; f.itr++) {
        ft_stats_t s = {0};
        if (cfg.ft_val_freq > 0 && f.itr % cfg.ft_val_freq == 0) {
            /* an evaluation iteration: fresh episodes, no rollout, no updates (RLDT.md §7) */
            rldt_eval_result_t ev;
            if ((st = evaluate(&f, &ev))) goto done;
            if (first_eval) res->eval_first = ev;
            first_eval = false;
            res->eval_last = ev;
            if ((st = write_metrics(&metrics, &f, &s, &ev, NAN, NAN))) goto done;
            rldt_info("itr %ld/%ld | eval success %.1f%% return %.2f ± %.2f (%d episodes, %.1fs)", f.itr + 1, cfg.ft_iterations,
                      100 * ev.success_rate, ev.return_mean, ev.return_std, ev.episodes, ev.seconds);
        } else {
            double t0 = rldt_now();
            long steps0 = f.env_steps;
            int fresh = ft_rollout(&f, &s);
            if (fresh < 0) {
                st = RLDT_ERR;
                goto done;
            }
            double t1 = rldt_now();
            if (f.algo == FT_PPO)
                ft_ppo_update(&f, &s);
            else
                for (int r = 0; r < cfg.ft_q_repeat && !ft_stopped(&f); r++) ft_round(&f, fresh, r, &s);
            if (!cfg.ft_anchor) be->copy(f.vref, f.actor.p, sizeof(float) * f.actor.n);
            world_stats(&s);
            if ((st = check_agree(&f))) goto done;
            double t2 = rldt_now(), sps = (double)(f.env_steps - steps0) / (t1 - t0 > 0 ? t1 - t0 : 1e-9);
            if ((st = write_metrics(&metrics, &f, &s, NULL, sps, t2 - t1)) || (st = write_step_grads(&metrics, &f))) goto done;
            double an = s.actor_n ? s.actor_n : 1;
            if (f.algo == FT_PPO)
                rldt_info("itr %ld/%ld | env steps %ld (%.0f/s) | update %.1fs | V loss %.4g | surrogate %.4g | KL %.3g | clipped %.3g%s",
                          f.itr + 1, cfg.ft_iterations, f.env_steps, sps, t2 - t1, s.critic_n ? s.critic_loss / s.critic_n : NAN,
                          s.transport / an, s.phi_norm / an, s.alpha / an, s.skipped ? " | skipped updates" : "");
            else
                rldt_info("itr %ld/%ld | env steps %ld (%.0f/s) | update %.1fs | Q loss %.4g | L_T %.4g L_C %.4g L_R %.4g | "
                      "|phi| %.3g h %.3g alpha %.3g%s",
                      f.itr + 1, cfg.ft_iterations, f.env_steps, sps, t2 - t1, s.critic_n ? s.critic_loss / s.critic_n : NAN,
                      s.transport / an, s.consist / an, s.reg / an, s.phi_norm / an, s.bandwidth / an, s.alpha / an,
                      s.skipped ? " | skipped updates" : "");
        }
        if (ft_stopped(&f)) {
            f.itr++;
            st = rldt_path_format(path, sizeof path, "%s/finetune_stopped.ckpt", dir);
            if (!st) st = save(&f, path);
            st = rldt_error_set(RLDT_ERR, "%ld consecutive non-finite updates: stopped; state saved to %s%s", cfg.ft_max_skips,
                                path, st ? " (saving failed too)" : "");
            goto done;
        }
        if (cfg.ft_ckpt_every > 0 && (f.itr + 1) % cfg.ft_ckpt_every == 0 && f.itr + 1 < cfg.ft_iterations) {
            f.itr++;
            st = rldt_path_format(path, sizeof path, "%s/finetune_%ld.ckpt", dir, f.itr);
            if (!st) st = save(&f, path);
            f.itr--;
            if (st) goto done;
            rldt_info("checkpoint %s", path);
        }
    }
    if ((st = save(&f, res->ckpt_path))) goto done;
    rldt_info("checkpoint %s", res->ckpt_path);
    rldt_eval_result_t ev;
    if ((st = evaluate(&f, &ev))) goto done;
    if (first_eval) res->eval_first = ev;
    res->eval_last = ev;
    rldt_info("final eval: success %.1f%%, return %.2f ± %.2f (%d episodes)", 100 * ev.success_rate, ev.return_mean,
              ev.return_std, ev.episodes);
    res->seconds = rldt_now() - t_run;
done:
    res->iterations = (int)f.itr;
    res->env_steps = f.env_steps;
    res->skipped = f.skipped;
    rldt_status_t closed = metrics_close(&metrics);
    if (!st) st = closed;
    free_all(&f);
    return st;
}
