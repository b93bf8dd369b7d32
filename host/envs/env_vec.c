/* env_vec.c — the vector env: n envs stepped in lock step over a persistent worker pool, chunked actions,
 * gymnasium-style auto-reset, optional per-step capture, and snapshots for resume (see rldt/env.h). A
 * simulator task's model is loaded once here and shared by the n envs. A Gymnasium env's envs are stepped
 * by the bridge's worker processes instead (host/envs/bridge/), all envs' step k in one exchange; both
 * ways share the per-step bookkeeping (step limit, capture, chunk results, episode seeds). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "env_pool.h"
#include "rldt/env.h"

struct rldt_vecenv {
    const rldt_env_spec_t *spec;
    int n;
    uint64_t seed;
    uint32_t rank;
    rldt_env_t *envs;
    rldt_env_model_t *model; /* simulator tasks: the shared model, else NULL */
    uint64_t *episodes; /* [n] episodes started */
    float *obs;         /* [n][obs_dim] current observations */
    rldt_env_pool_t *pool;   /* native tasks */
    rldt_renderer_t **renderers; /* native tasks with images: [threads], worker w's used only on its thread */
    uint8_t *images;         /* tasks with images: [n][image_bytes] current image observations, else NULL */
    size_t image_bytes;
    rldt_bridge_t *bridge;   /* Gymnasium envs */
    /* the job of the current rldt_vecenv_step */
    const float *actions;
    int chunk;
    rldt_vec_out_t *out;
};

/* The seed of env i's next episode. */
static uint64_t next_seed(const rldt_vecenv_t *v, int i) { return rldt_env_episode_seed(v->seed, v->rank, (uint32_t)i, v->episodes[i]); }

/* Renders env i's current image observation with worker's renderer (tasks with images). */
static void draw(rldt_vecenv_t *v, int worker, int i)
{
    rldt_env_draw(&v->envs[i], v->renderers[worker], v->images + (size_t)i * v->image_bytes);
}

static void reset_env(rldt_vecenv_t *v, int worker, int i)
{
    uint64_t s = next_seed(v, i);
    v->episodes[i]++;
    rldt_env_reset(&v->envs[i], s, v->obs + (size_t)i * (size_t)v->spec->obs_dim);
    if (v->images) draw(v, worker, i);
}

static void reset_range(void *ctx, int worker, int begin, int end)
{
    for (int i = begin; i < end; i++) reset_env(ctx, worker, i);
}

static void draw_range(void *ctx, int worker, int begin, int end)
{
    for (int i = begin; i < end; i++) draw(ctx, worker, i);
}

// ------------------------------------------------------------------------------------------------
// per-step bookkeeping, shared by both ways of stepping

/* Capture of row (i, k) before its step: the observation and the simulator state. */
static void record_before(rldt_vecenv_t *v, int i, int k)
{
    rldt_vec_record_t *rec = v->out->record;
    if (!rec) return;
    size_t od = (size_t)v->spec->obs_dim, row = (size_t)i * (size_t)v->chunk + (size_t)k;
    if (rec->obs) memcpy(rec->obs + row * od, v->obs + (size_t)i * od, od * sizeof(float));
    if (rec->states && v->spec->state_dim) rldt_env_get_state(&v->envs[i], rec->states + row * (size_t)v->spec->state_dim);
    if (rec->images && v->images) memcpy(rec->images + row * v->image_bytes, v->images + (size_t)i * v->image_bytes, v->image_bytes);
}

/* Capture of row (i, k) after its step, whose observation is `next` (and image `next_image`: tasks with images). */
static void record_after(rldt_vecenv_t *v, int i, int k, rldt_step_t s, const float *next, const uint8_t *next_image)
{
    rldt_vec_record_t *rec = v->out->record;
    if (!rec) return;
    size_t od = (size_t)v->spec->obs_dim, row = (size_t)i * (size_t)v->chunk + (size_t)k;
    if (rec->rewards) rec->rewards[row] = s.reward;
    if (rec->next_obs) memcpy(rec->next_obs + row * od, next, od * sizeof(float));
    if (rec->dones) rec->dones[row] = s.terminated || s.truncated;
    if (rec->successes) rec->successes[row] = s.success;
    if (rec->next_images && v->images) memcpy(rec->next_images + row * v->image_bytes, next_image, v->image_bytes);
}

/* Env i's chunk results after `steps` steps summing to `reward`, the last one `s`; `last` is the
 * observation it ended on (final_obs when the episode ended). */
static void finish_chunk(rldt_vecenv_t *v, int i, int steps, float reward, rldt_step_t s, const float *last)
{
    size_t od = (size_t)v->spec->obs_dim;
    rldt_vec_out_t *out = v->out;
    out->reward[i] = reward;
    out->steps[i] = steps;
    out->terminated[i] = s.terminated;
    out->truncated[i] = s.truncated;
    out->success[i] = s.success;
    if (s.terminated || s.truncated) memcpy(out->final_obs + (size_t)i * od, last, od * sizeof(float));
}

// ------------------------------------------------------------------------------------------------
// native tasks: each env's whole chunk on a pool thread

/* Runs env i's chunk on thread `worker`; rows of the capture are at (i, k). Images are rendered after every
 * step when the capture takes them, else only where the chunk ends (a reset renders the next episode's; the
 * terminal one is rendered before it when the caller keeps final_images). */
static void step_env(rldt_vecenv_t *v, int worker, int i)
{
    size_t od = (size_t)v->spec->obs_dim, ad = (size_t)v->spec->act_dim;
    rldt_vec_record_t *rec = v->out->record;
    bool every_image = v->images && rec && (rec->images || rec->next_images);
    float *obs = v->obs + (size_t)i * od;
    rldt_step_t s = {0};
    float reward = 0.0f;
    int k = 0;
    while (k < v->chunk) {
        size_t row = (size_t)i * (size_t)v->chunk + (size_t)k;
        record_before(v, i, k);
        s = rldt_env_step(&v->envs[i], v->actions + row * ad, obs, rec && rec->actions ? rec->actions + row * ad : NULL);
        reward += s.reward;
        bool done = s.terminated || s.truncated;
        if (every_image || (v->images && (done ? v->out->final_images != NULL : k + 1 == v->chunk))) draw(v, worker, i);
        record_after(v, i, k++, s, obs, v->images ? v->images + (size_t)i * v->image_bytes : NULL);
        if (done) break;
    }
    finish_chunk(v, i, k, reward, s, obs);
    if ((s.terminated || s.truncated) && v->out->final_images)
        memcpy(v->out->final_images + (size_t)i * v->image_bytes, v->images + (size_t)i * v->image_bytes, v->image_bytes);
    if (s.terminated || s.truncated) reset_env(v, worker, i);
    memcpy(v->out->obs + (size_t)i * od, obs, od * sizeof *obs);
}

static void step_range(void *ctx, int worker, int begin, int end)
{
    for (int i = begin; i < end; i++) step_env(ctx, worker, i);
}

// ------------------------------------------------------------------------------------------------
// renderers: one per worker thread, made and freed on that thread (a GL context is current on one thread)

typedef struct {
    rldt_vecenv_t *v;
    rldt_status_t *status; /* [threads] */
    char (*error)[512];    /* [threads] the failures' messages */
} render_job_t;

/* With n = threads items, every worker runs exactly one: its own. */
static void make_renderer(void *ctx, int worker, int begin, int end)
{
    render_job_t *j = ctx;
    j->status[worker] = rldt_env_renderer_create(&j->v->envs[0], &j->v->renderers[worker]);
    if (j->status[worker]) snprintf(j->error[worker], sizeof j->error[worker], "%s", rldt_error_message());
}

static void free_renderer(void *ctx, int worker, int begin, int end)
{
    rldt_vecenv_t *v = ctx;
    rldt_renderer_free(v->renderers[worker]);
    v->renderers[worker] = NULL;
}

static rldt_status_t make_renderers(rldt_vecenv_t *v)
{
    int t = rldt_env_pool_threads(v->pool);
    v->renderers = rldt_xcalloc((size_t)t, sizeof *v->renderers);
    render_job_t j = {v, rldt_xcalloc((size_t)t, sizeof *j.status), rldt_xcalloc((size_t)t, sizeof *j.error)};
    rldt_env_pool_run(v->pool, make_renderer, &j, t);
    rldt_status_t st = RLDT_OK;
    for (int w = 0; w < t && !st; w++)
        if (j.status[w]) st = rldt_error_set(j.status[w], "%s: %s", v->spec->name, j.error[w]);
    free(j.status);
    free(j.error);
    return st;
}

// ------------------------------------------------------------------------------------------------
// Gymnasium envs: step k of every env still in its chunk in one exchange with the workers, which reset an
// ended episode at once with the seed given beside the action

static rldt_status_t bridge_step(rldt_vecenv_t *v)
{
    const rldt_env_spec_t *sp = v->spec;
    size_t od = (size_t)sp->obs_dim, ad = (size_t)sp->act_dim;
    rldt_bridge_io_t *io = rldt_bridge_io(v->bridge);
    rldt_vec_out_t *out = v->out;
    rldt_vec_record_t *rec = out->record;
    memset(out->terminated, 0, (size_t)v->n), memset(out->truncated, 0, (size_t)v->n); /* set by an env's end */
    for (int i = 0; i < v->n; i++) out->reward[i] = 0.0f;
    bool active = true;
    for (int k = 0; k < v->chunk && active; k++) {
        for (int i = 0; i < v->n; i++) {
            if (out->terminated[i] || out->truncated[i]) continue; /* its episode ended earlier in the chunk */
            size_t row = (size_t)i * (size_t)v->chunk + (size_t)k;
            rldt_env_t *env = &v->envs[i];
            record_before(v, i, k);
            rldt_env_clip_action(sp, v->actions + row * ad, io->action + (size_t)i * ad);
            if (rec && rec->actions) memcpy(rec->actions + row * ad, io->action + (size_t)i * ad, ad * sizeof(float));
            io->limit[i] = env->t + 1 >= env->max_steps;
            io->seed[i] = next_seed(v, i);
            io->op[i] = RLDT_BRIDGE_STEP;
        }
        rldt_status_t st = rldt_bridge_exchange(v->bridge);
        if (st) return st;
        active = false;
        for (int i = 0; i < v->n; i++) {
            if (out->terminated[i] || out->truncated[i]) continue;
            rldt_step_t s = {.reward = io->reward[i], .terminated = io->terminated[i], .truncated = io->truncated[i], .success = io->success[i]};
            rldt_env_count_step(&v->envs[i], &s);
            bool done = s.terminated || s.truncated;
            const float *next = done ? io->final_obs + (size_t)i * od : io->obs + (size_t)i * od;
            out->reward[i] += s.reward;
            size_t ib = v->image_bytes;
            record_after(v, i, k, s, next, v->images ? (done ? io->final_image : io->image) + (size_t)i * ib : NULL);
            memcpy(v->obs + (size_t)i * od, io->obs + (size_t)i * od, od * sizeof(float));
            if (v->images) memcpy(v->images + (size_t)i * ib, io->image + (size_t)i * ib, ib);
            if (out->final_images && done) memcpy(out->final_images + (size_t)i * ib, io->final_image + (size_t)i * ib, ib);
            if (done || k + 1 == v->chunk) finish_chunk(v, i, k + 1, out->reward[i], s, next);
            if (done) rldt_env_begin(&v->envs[i], next_seed(v, i)), v->episodes[i]++;
            active |= !done;
        }
    }
    memcpy(v->out->obs, v->obs, (size_t)v->n * od * sizeof(float));
    return RLDT_OK;
}

/* Resets envs [begin, end) through the workers with their next episode seeds (or `seed` if one env). */
static rldt_status_t bridge_reset(rldt_vecenv_t *v, int begin, int end, const uint64_t *seed)
{
    rldt_bridge_io_t *io = rldt_bridge_io(v->bridge);
    for (int i = begin; i < end; i++) {
        io->seed[i] = seed ? *seed : next_seed(v, i);
        io->op[i] = RLDT_BRIDGE_RESET;
    }
    rldt_status_t st = rldt_bridge_exchange(v->bridge);
    if (st) return st;
    size_t od = (size_t)v->spec->obs_dim;
    for (int i = begin; i < end; i++) {
        rldt_env_begin(&v->envs[i], io->seed[i]);
        if (!seed) v->episodes[i]++;
    }
    memcpy(v->obs + (size_t)begin * od, io->obs + (size_t)begin * od, (size_t)(end - begin) * od * sizeof(float));
    if (v->images) memcpy(v->images + (size_t)begin * v->image_bytes, io->image + (size_t)begin * v->image_bytes, (size_t)(end - begin) * v->image_bytes);
    return RLDT_OK;
}

/* The bridge's workers and the envs' bookkeeping (rldt_env_open refuses Gymnasium envs). */
static rldt_status_t bridge_open(rldt_vecenv_t *v, int max_steps)
{
    const rldt_env_spec_t *sp = v->spec;
    rldt_bridge_spec_t got;
    rldt_status_t st = rldt_bridge_open(&v->bridge, sp->name, sp->gym, v->n, max_steps, &got);
    if (st) return st;
    bool same = got.obs_dim == sp->obs_dim && got.act_dim == sp->act_dim && got.image_h == sp->image_h && got.image_w == sp->image_w &&
                got.image_c == sp->image_c;
    for (int j = 0; same && j < sp->act_dim; j++) same = got.act_low[j] == sp->act_low[j] && got.act_high[j] == sp->act_high[j];
    if (!same)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: the workers report %d observation and %d action numbers (or other action bounds or "
                              "image shape) where the task's spec has %d and %d", sp->name, got.obs_dim, got.act_dim, sp->obs_dim, sp->act_dim);
    for (int i = 0; i < v->n; i++) v->envs[i] = (rldt_env_t){.spec = sp, .max_steps = max_steps > 0 ? max_steps : sp->max_steps};
    return RLDT_OK;
}

rldt_status_t rldt_vecenv_create(rldt_vecenv_t **out, const rldt_env_spec_t *spec, int n, int max_steps, uint64_t seed,
                                 uint32_t rank, int threads)
{
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads > n) threads = n;
    rldt_env_model_t *model;
    rldt_status_t st = rldt_env_model_load(spec, &model);
    if (st) return st;
    rldt_vecenv_t *v = rldt_xcalloc(1, sizeof *v);
    v->model = model;
    v->spec = spec;
    v->n = n;
    v->seed = seed;
    v->rank = rank;
    v->envs = rldt_xcalloc((size_t)n, sizeof *v->envs);
    v->episodes = rldt_xcalloc((size_t)n, sizeof *v->episodes);
    v->obs = rldt_xcalloc((size_t)n * (size_t)spec->obs_dim, sizeof *v->obs);
    v->image_bytes = (size_t)spec->image_h * (size_t)spec->image_w * (size_t)spec->image_c;
    if (v->image_bytes) v->images = rldt_xcalloc((size_t)n, v->image_bytes);
    if (spec->gym) st = bridge_open(v, max_steps);
    for (int i = 0; !spec->gym && !st && i < n; i++) st = rldt_env_open(&v->envs[i], spec, max_steps, model);
    if (!st && !spec->gym) st = rldt_env_pool_create(&v->pool, threads);
    if (!st && spec->image_h && !spec->gym) st = make_renderers(v); /* a Gymnasium env's images come from its workers */
    if (!st) st = rldt_vecenv_reset(v, NULL);
    if (st) {
        rldt_vecenv_destroy(v);
        return st;
    }
    *out = v;
    return RLDT_OK;
}

void rldt_vecenv_destroy(rldt_vecenv_t *v)
{
    if (!v) return;
    if (v->renderers) rldt_env_pool_run(v->pool, free_renderer, v, rldt_env_pool_threads(v->pool));
    free(v->renderers);
    free(v->images);
    rldt_env_pool_destroy(v->pool);
    rldt_bridge_close(v->bridge);
    for (int i = 0; i < v->n; i++) rldt_env_free(&v->envs[i]);
    rldt_env_model_free(v->spec, v->model);
    free(v->envs);
    free(v->episodes);
    free(v->obs);
    free(v);
}

int rldt_vecenv_size(const rldt_vecenv_t *v) { return v->n; }

int rldt_vecenv_threads(const rldt_vecenv_t *v) { return v->bridge ? rldt_bridge_workers(v->bridge) : rldt_env_pool_threads(v->pool); }

const rldt_env_t *rldt_vecenv_env(const rldt_vecenv_t *v, int i) { return &v->envs[i]; }

const float *rldt_vecenv_obs(const rldt_vecenv_t *v) { return v->obs; }

const uint8_t *rldt_vecenv_images(const rldt_vecenv_t *v) { return v->images; }

uint64_t rldt_vecenv_episodes(const rldt_vecenv_t *v, int i) { return v->episodes[i]; }

rldt_status_t rldt_vecenv_reset(rldt_vecenv_t *v, float *obs)
{
    if (v->bridge) {
        rldt_status_t st = bridge_reset(v, 0, v->n, NULL);
        if (st) return st;
    } else {
        rldt_env_pool_run(v->pool, reset_range, v, v->n);
    }
    if (obs) memcpy(obs, v->obs, (size_t)v->n * (size_t)v->spec->obs_dim * sizeof *obs);
    return RLDT_OK;
}

rldt_status_t rldt_vecenv_reset_env(rldt_vecenv_t *v, int i, uint64_t seed, float *obs)
{
    size_t od = (size_t)v->spec->obs_dim;
    if (v->bridge) {
        rldt_status_t st = bridge_reset(v, i, i + 1, &seed);
        if (st) return st;
    } else {
        rldt_env_reset(&v->envs[i], seed, v->obs + (size_t)i * od);
        if (v->images) draw(v, 0, i); /* the caller's thread is worker 0 */
    }
    memcpy(obs, v->obs + (size_t)i * od, od * sizeof *obs);
    return RLDT_OK;
}

rldt_status_t rldt_vecenv_step(rldt_vecenv_t *v, const float *actions, int chunk, rldt_vec_out_t *out)
{
    v->actions = actions;
    v->chunk = chunk;
    v->out = out;
    if (v->bridge) return bridge_step(v);
    rldt_env_pool_run(v->pool, step_range, v, v->n);
    return RLDT_OK;
}

rldt_status_t rldt_vecenv_expert(rldt_vecenv_t *v, rldt_rng_t *rngs, float noise, float *actions)
{
    const rldt_env_spec_t *sp = v->spec;
    size_t ad = (size_t)sp->act_dim;
    if (!v->bridge) {
        for (int i = 0; i < v->n; i++) {
            rldt_status_t st = rldt_env_expert(&v->envs[i], &rngs[i], noise, actions + (size_t)i * ad);
            if (st) return st;
        }
        return RLDT_OK;
    }
    if (!sp->worker_expert)
        return rldt_error_set(RLDT_ERR_USAGE, "%s has no scripted expert (its env defines no rldt_expert_action)", sp->name);
    rldt_bridge_io_t *io = rldt_bridge_io(v->bridge);
    memset(io->op, RLDT_BRIDGE_EXPERT, (size_t)v->n);
    rldt_status_t st = rldt_bridge_exchange(v->bridge);
    if (st) return st;
    memcpy(actions, io->action, (size_t)v->n * ad * sizeof(float));
    for (int i = 0; i < v->n; i++) rldt_env_add_noise(sp, &rngs[i], noise, actions + (size_t)i * ad);
    return RLDT_OK;
}

void rldt_vecenv_out_alloc(const rldt_vecenv_t *v, rldt_vec_out_t *out)
{
    size_t n = (size_t)v->n, od = (size_t)v->spec->obs_dim;
    *out = (rldt_vec_out_t){
        .obs = rldt_xcalloc(n * od, sizeof(float)),
        .final_obs = rldt_xcalloc(n * od, sizeof(float)),
        .reward = rldt_xcalloc(n, sizeof(float)),
        .steps = rldt_xcalloc(n, sizeof(int)),
        .terminated = rldt_xcalloc(n, 1),
        .truncated = rldt_xcalloc(n, 1),
        .success = rldt_xcalloc(n, 1),
        .final_images = v->image_bytes ? rldt_xcalloc(n, v->image_bytes) : NULL,
    };
}

void rldt_vecenv_out_free(rldt_vec_out_t *out)
{
    free(out->obs), free(out->final_obs), free(out->reward), free(out->steps);
    free(out->terminated), free(out->truncated), free(out->success), free(out->final_images);
    *out = (rldt_vec_out_t){0};
}


// ------------------------------------------------------------------------------------------------
// snapshots: a header naming the task and sizes, then per env its fields one by one (no struct padding)

#define SNAPSHOT_MAGIC 0x45564c52u /* "RLVE" */
#define SNAPSHOT_NAME 32

typedef struct {
    uint32_t magic;
    int32_t n, obs_dim, zero; /* `zero` fills what would be padding: the header is compared bytewise */
    uint64_t state_size;
    char name[SNAPSHOT_NAME];
} snapshot_header_t;

/* After the header: the seed and rank the episodes derive from (restored too), then the envs. */
#define SNAPSHOT_PREFIX (sizeof(snapshot_header_t) + 2 * sizeof(uint64_t))

static size_t env_record_size(const rldt_vecenv_t *v)
{
    return sizeof(int32_t) + 3 * sizeof(uint64_t) + 4 * sizeof(uint32_t) + sizeof(int32_t) + sizeof(uint64_t) +
           (size_t)v->spec->obs_dim * sizeof(float) + v->spec->ops->state_size;
}

size_t rldt_vecenv_snapshot_size(const rldt_vecenv_t *v) { return SNAPSHOT_PREFIX + (size_t)v->n * env_record_size(v); }

static snapshot_header_t header_of(const rldt_vecenv_t *v)
{
    snapshot_header_t h;
    memset(&h, 0, sizeof h);
    h.magic = SNAPSHOT_MAGIC;
    h.n = v->n;
    h.obs_dim = v->spec->obs_dim;
    h.state_size = v->spec->ops->state_size;
    strncpy(h.name, v->spec->name, SNAPSHOT_NAME - 1);
    return h;
}

/* Copies `bytes` between a field and the buffer cursor: into the buffer when saving, out of it when not.
 * One field list (transfer) serves both directions, so they cannot drift apart. */
static void field(uint8_t **cursor, void *value, size_t bytes, bool save)
{
    if (!bytes) return; /* a Gymnasium env has no state here (value NULL) */
    if (save)
        memcpy(*cursor, value, bytes);
    else
        memcpy(value, *cursor, bytes);
    *cursor += bytes;
}

/* Env i's record: its fields between v and the buffer cursor. */
static void transfer_env(rldt_vecenv_t *v, int i, uint8_t **c, bool save)
{
    size_t od = (size_t)v->spec->obs_dim;
    rldt_env_t *e = &v->envs[i];
    int32_t t = e->t, nbuf = e->rng.nbuf;
    field(c, &t, sizeof t, save);
    field(c, &e->rng.seed, sizeof e->rng.seed, save);
    field(c, &e->rng.stream, sizeof e->rng.stream, save);
    field(c, &e->rng.counter, sizeof e->rng.counter, save);
    field(c, e->rng.buf, sizeof e->rng.buf, save);
    field(c, &nbuf, sizeof nbuf, save);
    field(c, &v->episodes[i], sizeof v->episodes[i], save);
    field(c, v->obs + (size_t)i * od, od * sizeof(float), save);
    field(c, e->state, v->spec->ops->state_size, save);
    if (!save) e->t = t, e->rng.nbuf = nbuf;
}

static void transfer(rldt_vecenv_t *v, uint8_t *buf, bool save)
{
    uint8_t *c = buf + sizeof(snapshot_header_t);
    uint64_t rank = v->rank;
    field(&c, &v->seed, sizeof v->seed, save);
    field(&c, &rank, sizeof rank, save);
    if (!save) v->rank = (uint32_t)rank;
    for (int i = 0; i < v->n; i++) transfer_env(v, i, &c, save);
}

void rldt_vecenv_snapshot(const rldt_vecenv_t *v, uint8_t *out)
{
    snapshot_header_t h = header_of(v);
    memcpy(out, &h, sizeof h);
    transfer((rldt_vecenv_t *)v, out, true); /* saving only reads v */
}

rldt_status_t rldt_vecenv_restore(rldt_vecenv_t *v, const uint8_t *in, size_t bytes)
{
    if (v->bridge)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: a Gymnasium env's state lives in its worker processes, which rldt cannot save or "
                              "restore, so a run on it cannot resume from a checkpoint", v->spec->name);
    snapshot_header_t want = header_of(v), got;
    if (bytes >= sizeof got) memcpy(&got, in, sizeof got);
    if (bytes != rldt_vecenv_snapshot_size(v) || memcmp(&want, &got, sizeof want) != 0)
        return rldt_error_set(RLDT_ERR_USAGE, "env snapshot (%zu bytes) is not one of %d %s envs (%zu bytes)", bytes, v->n,
                              v->spec->name, rldt_vecenv_snapshot_size(v));
    transfer(v, (uint8_t *)in, false); /* restoring only reads the buffer */
    if (v->images) rldt_env_pool_run(v->pool, draw_range, v, v->n);
    return RLDT_OK;
}

rldt_status_t rldt_vecenv_restore_part(rldt_vecenv_t *v, const uint8_t *in, size_t bytes, int first)
{
    snapshot_header_t want = header_of(v), got;
    size_t rec = env_record_size(v), at = 0;
    long total = 0;
    while (at < bytes) { /* every snapshot's header first, and the envs they hold */
        if (bytes - at >= sizeof got) memcpy(&got, in + at, sizeof got);
        want.n = got.n;
        if (bytes - at < SNAPSHOT_PREFIX || memcmp(&want, &got, sizeof want) != 0 || got.n < 0 ||
            (bytes - at - SNAPSHOT_PREFIX) / rec < (size_t)got.n)
            return rldt_error_set(RLDT_ERR_USAGE, "env snapshots (%zu bytes): the one at byte %zu is not one of %s envs", bytes, at,
                                  v->spec->name);
        at += SNAPSHOT_PREFIX + (size_t)got.n * rec;
        total += got.n;
    }
    if (first < 0 || first + (long)v->n > total)
        return rldt_error_set(RLDT_ERR_USAGE, "env snapshots hold %ld %s envs: envs %d to %d do not exist", total, v->spec->name,
                              first, first + v->n - 1);
    memcpy(&v->seed, in + sizeof(snapshot_header_t), sizeof v->seed);
    long index = 0;
    for (at = 0; at < bytes;) {
        memcpy(&got, in + at, sizeof got);
        uint8_t *c = (uint8_t *)in + at + SNAPSHOT_PREFIX; /* restoring only reads the buffer */
        for (int i = 0; i < got.n; i++, index++)
            if (index >= first && index < first + v->n)
                transfer_env(v, (int)(index - first), &c, false);
            else
                c += rec;
        at += SNAPSHOT_PREFIX + (size_t)got.n * rec;
    }
    if (v->renderers) /* native tasks with images */ rldt_env_pool_run(v->pool, draw_range, v, v->n);
    return RLDT_OK;
}
