/* finetune_ckpt.c — a fine-tune's checkpoints: everything a bit-exact resume needs, written and read back
 * with every value checked (see rldt/finetune.h).
 *
 * With data parallelism the ranks share the networks, their moments and the counters, and each has its own
 * envs and replay buffer. A checkpoint (rank 0 writes it) holds the shared state once and the world's envs
 * and buffers, laid out as one rank with all the envs would hold them: env e = rank * env.n_envs + i, and in
 * the buffer, rollout block b (env.n_envs segments per rank) holds the ranks' segments of that rollout in
 * rank order (so a one-rank checkpoint is what it always was). Any world size whose ranks split the envs and
 * the buffer evenly resumes it (W x env.n_envs and W x finetune.buffer_segments as when it was written); on the
 * world size that wrote it, bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "rldt/checkpoint.h"
#include "rldt/comm.h"
#include "rldt/log.h"

/* One piece of the training state as it goes into a checkpoint. */
typedef enum { ON_DEVICE, HOST_FLOATS, HOST_BYTES, HOST_RAW } place_t; /* HOST_BYTES: 0/1 flags; HOST_RAW: any bytes */
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
    if (b->image_bytes) { /* a pixel policy's (the critic's encoder is in the critic's tensors, the actor's in the policy's) */
        t[n++] = (piece_t){"replay/images", b->images, steps * b->image_bytes, HOST_RAW, slots};
        t[n++] = (piece_t){"replay/next_images", b->next_images, steps * b->image_bytes, HOST_RAW, slots};
    }
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
static size_t elem_size(const piece_t *p) { return p->place == HOST_BYTES || p->place == HOST_RAW ? 1 : sizeof(float); }

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
    int64_t actor = rollouts * (ft_updates_per_rollout(f, cfg, true) > ft_updates_per_rollout(f, was, true) ? ft_updates_per_rollout(f, cfg, true)
                                                                                                      : ft_updates_per_rollout(f, was, true));
    int64_t critic = rollouts * (ft_updates_per_rollout(f, cfg, false) > ft_updates_per_rollout(f, was, false) ? ft_updates_per_rollout(f, cfg, false)
                                                                                                         : ft_updates_per_rollout(f, was, false));
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
rldt_status_t ft_save(ft_t *f, const char *path)
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
        t[i] = (rldt_ckpt_tensor_t){p[i].name, data, p[i].place == ON_DEVICE ? p[i].n : p[i].n * W, p[i].place == HOST_BYTES || p[i].place == HOST_RAW};
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
    if (f->cfg->ft_demo_segments > 0) s[nc++] = (rldt_ckpt_scalar_t){"replay_demo_segments", f->demo_segments * W};
    s[nc++] = (rldt_ckpt_scalar_t){"obs_dim", f->pin}; /* the policy's input width (norm/obs_mean) */
    s[nc++] = (rldt_ckpt_scalar_t){"act_dim", f->spec->act_dim};
    if (f->img_bytes) { /* a pixel policy's image shape (rldt_policy_from_ckpt_pixels) */
        const rldt_encoder_spec_t *es = &f->px.enc.spec;
        s[nc++] = (rldt_ckpt_scalar_t){"image_h", es->h};
        s[nc++] = (rldt_ckpt_scalar_t){"image_w", es->w};
        s[nc++] = (rldt_ckpt_scalar_t){"image_c", es->c};
    }
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
    int64_t demos = 0; /* the demo segments a run with finetune.demo_segments pushed before its first rollout */
    rldt_status_t st = rldt_ckpt_scalar_in(c, "itr", 0, f->cfg->ft_iterations, &itr);
    if (!st && was->ft_demo_segments > 0)
        st = rldt_ckpt_scalar_in(c, "replay_demo_segments", 0, was->ft_demo_segments < capacity ? was->ft_demo_segments : capacity,
                                 &demos);
    if (!st && demos > 0 && W > 1)
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: its buffer started with %lld demo segments (finetune.demo_segments), "
                            "which resume on one rank only", path, (long long)demos);
    if (!st) st = rldt_ckpt_scalar_in(c, "replay_pushed", demos, demos + itr * envs, &pushed); /* the world's, as is the count */
    if (!st && (pushed - demos) % envs) /* every rollout pushes one segment per env */
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: scalar 'replay_pushed' is %lld: after %lld demo segments, not a multiple "
                            "of the %lld envs", path, (long long)pushed, (long long)demos, (long long)envs);
    int64_t fill = pushed < capacity ? pushed : capacity;
    if (!st) st = rldt_ckpt_scalar_in(c, "replay_count", fill, fill, &count);
    counter_t cs[16];
    int nc = st ? 0 : counters(f, cs, (pushed - demos) / envs, was);
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
    f->demo_segments = (long)demos;
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
rldt_status_t ft_restore(ft_t *f, rldt_ckpt_t *c, const rldt_config_t *was)
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
        if (p[i].place == HOST_RAW) {
            st = rldt_ckpt_read_bytes(c, p[i].name, h, n);
        } else if (p[i].place == HOST_BYTES) {
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
