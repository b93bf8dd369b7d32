/* env_vec.c — the vector env: n envs stepped in lock step over a persistent worker pool, chunked actions,
 * gymnasium-style auto-reset, optional per-step capture, and snapshots for resume (see rldt/env.h). A
 * simulator task's model is loaded once here and shared by the n envs. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    rldt_env_pool_t *pool;
    /* the job of the current rldt_vecenv_step */
    const float *actions;
    int chunk;
    rldt_vec_out_t *out;
};

static void reset_env(rldt_vecenv_t *v, int i)
{
    uint64_t s = rldt_env_episode_seed(v->seed, v->rank, (uint32_t)i, v->episodes[i]++);
    rldt_env_reset(&v->envs[i], s, v->obs + (size_t)i * (size_t)v->spec->obs_dim);
}

static void reset_range(void *ctx, int begin, int end)
{
    for (int i = begin; i < end; i++) reset_env(ctx, i);
}

/* Runs env i's chunk; rows of the capture are at (i, k). */
static void step_env(rldt_vecenv_t *v, int i)
{
    const rldt_env_spec_t *sp = v->spec;
    size_t od = (size_t)sp->obs_dim, ad = (size_t)sp->act_dim, sd = (size_t)sp->state_dim;
    rldt_env_t *env = &v->envs[i];
    rldt_vec_out_t *out = v->out;
    rldt_vec_record_t *rec = out->record;
    float *obs = v->obs + (size_t)i * od;
    float reward = 0.0f;
    rldt_step_t s = {0};
    int k = 0;
    while (k < v->chunk) {
        size_t row = (size_t)i * (size_t)v->chunk + (size_t)k;
        if (rec && rec->obs) memcpy(rec->obs + row * od, obs, od * sizeof *obs);
        if (rec && rec->states) rldt_env_get_state(env, rec->states + row * sd);
        s = rldt_env_step(env, v->actions + row * ad, obs, rec && rec->actions ? rec->actions + row * ad : NULL);
        reward += s.reward;
        k++;
        bool done = s.terminated || s.truncated;
        if (rec && rec->rewards) rec->rewards[row] = s.reward;
        if (rec && rec->next_obs) memcpy(rec->next_obs + row * od, obs, od * sizeof *obs);
        if (rec && rec->dones) rec->dones[row] = done;
        if (rec && rec->successes) rec->successes[row] = s.success;
        if (done) break;
    }
    out->reward[i] = reward;
    out->steps[i] = k;
    out->terminated[i] = s.terminated;
    out->truncated[i] = s.truncated;
    out->success[i] = s.success;
    if (s.terminated || s.truncated) {
        memcpy(out->final_obs + (size_t)i * od, obs, od * sizeof *obs);
        reset_env(v, i);
    }
    memcpy(out->obs + (size_t)i * od, obs, od * sizeof *obs);
}

static void step_range(void *ctx, int begin, int end)
{
    for (int i = begin; i < end; i++) step_env(ctx, i);
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
    for (int i = 0; !st && i < n; i++) st = rldt_env_open(&v->envs[i], spec, max_steps, model);
    if (!st) st = rldt_env_pool_create(&v->pool, threads);
    if (st) {
        rldt_vecenv_destroy(v);
        return st;
    }
    rldt_vecenv_reset(v, NULL);
    *out = v;
    return RLDT_OK;
}

void rldt_vecenv_destroy(rldt_vecenv_t *v)
{
    if (!v) return;
    rldt_env_pool_destroy(v->pool);
    for (int i = 0; i < v->n; i++) rldt_env_free(&v->envs[i]);
    rldt_env_model_free(v->spec, v->model);
    free(v->envs);
    free(v->episodes);
    free(v->obs);
    free(v);
}

int rldt_vecenv_size(const rldt_vecenv_t *v) { return v->n; }

int rldt_vecenv_threads(const rldt_vecenv_t *v) { return rldt_env_pool_threads(v->pool); }

const rldt_env_t *rldt_vecenv_env(const rldt_vecenv_t *v, int i) { return &v->envs[i]; }

const float *rldt_vecenv_obs(const rldt_vecenv_t *v) { return v->obs; }

uint64_t rldt_vecenv_episodes(const rldt_vecenv_t *v, int i) { return v->episodes[i]; }

void rldt_vecenv_reset(rldt_vecenv_t *v, float *obs)
{
    rldt_env_pool_run(v->pool, reset_range, v, v->n);
    if (obs) memcpy(obs, v->obs, (size_t)v->n * (size_t)v->spec->obs_dim * sizeof *obs);
}

void rldt_vecenv_step(rldt_vecenv_t *v, const float *actions, int chunk, rldt_vec_out_t *out)
{
    v->actions = actions;
    v->chunk = chunk;
    v->out = out;
    rldt_env_pool_run(v->pool, step_range, v, v->n);
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
    };
}

void rldt_vecenv_out_free(rldt_vec_out_t *out)
{
    free(out->obs), free(out->final_obs), free(out->reward), free(out->steps);
    free(out->terminated), free(out->truncated), free(out->success);
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
    snapshot_header_t want = header_of(v), got;
    if (bytes >= sizeof got) memcpy(&got, in, sizeof got);
    if (bytes != rldt_vecenv_snapshot_size(v) || memcmp(&want, &got, sizeof want) != 0)
        return rldt_error_set(RLDT_ERR_USAGE, "env snapshot (%zu bytes) is not one of %d %s envs (%zu bytes)", bytes, v->n,
                              v->spec->name, rldt_vecenv_snapshot_size(v));
    transfer(v, (uint8_t *)in, false); /* restoring only reads the buffer */
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
    return RLDT_OK;
}
