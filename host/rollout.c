/* rollout.c — acting with a flow policy in a vector env, and evaluation (see rldt/rollout.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/log.h"
#include "rldt/rollout.h"

rldt_status_t rldt_actor_init(rldt_actor_t *a, rldt_policy_t *p, int n, uint64_t seed, uint64_t stream)
{
    memset(a, 0, sizeof *a);
    if (n > p->max_batch) return rldt_error_set(RLDT_ERR_USAGE, "actor: %d envs exceed the policy's batch %d", n, p->max_batch);
    const rldt_backend_t *be = p->be;
    a->policy = p;
    a->n = n;
    a->obs_host = rldt_xmalloc(sizeof(float) * (size_t)n * p->spec.obs_dim);
    a->x_host = rldt_xmalloc(sizeof(float) * (size_t)n * p->spec.D);
    a->obs_dev = be->alloc(sizeof(float) * (size_t)n * p->spec.obs_dim);
    a->x_dev = be->alloc(sizeof(float) * (size_t)n * p->spec.D);
    rldt_rng_init(&a->rng, seed, stream);
    if (!a->obs_dev || !a->x_dev) {
        rldt_actor_free(a);
        return rldt_error_set(RLDT_ERR, "actor: out of %s memory", be->name);
    }
    return RLDT_OK;
}

void rldt_actor_free(rldt_actor_t *a)
{
    if (a->policy) {
        if (a->obs_dev) a->policy->be->free(a->obs_dev);
        if (a->x_dev) a->policy->be->free(a->x_dev);
    }
    free(a->obs_host), free(a->x_host);
    memset(a, 0, sizeof *a);
}

void rldt_actor_act(rldt_actor_t *a, const float *params, const float *obs, bool deterministic, float *actions)
{
    rldt_policy_t *p = a->policy;
    const rldt_backend_t *be = p->be;
    size_t nx = (size_t)a->n * p->spec.D;
    rldt_policy_observe(p, obs, a->obs_host, a->n);
    be->upload(a->obs_dev, a->obs_host, sizeof(float) * (size_t)a->n * p->spec.obs_dim);
    if (deterministic)
        be->fill(a->x_dev, 0.0f, nx);
    else
        be->fill_normal(a->x_dev, nx, a->rng.seed, a->rng.stream, rldt_rng_claim(&a->rng, nx));
    rldt_policy_sample(p, params, a->obs_dev, a->n, a->x_dev, NULL);
    be->download(a->x_host, a->x_dev, sizeof(float) * nx);
    rldt_policy_act(p, a->x_host, actions, a->n * p->spec.chunk);
}

// ---------------------------------------------------------------------------------------------------
// evaluation

/* One env's episode in progress, kept only when exporting. */
typedef struct {
    int T, cap;
    float *obs, *next_obs, *actions, *rewards;
    uint8_t *dones;
    double *states;
} episode_buf_t;

static void episode_push(episode_buf_t *e, const rldt_env_spec_t *s, const rldt_vec_record_t *r, int i, int k, int chunk)
{
    if (e->T == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 64;
        e->obs = realloc(e->obs, sizeof(float) * (size_t)e->cap * s->obs_dim);
        e->next_obs = realloc(e->next_obs, sizeof(float) * (size_t)e->cap * s->obs_dim);
        e->actions = realloc(e->actions, sizeof(float) * (size_t)e->cap * s->act_dim);
        e->rewards = realloc(e->rewards, sizeof(float) * (size_t)e->cap);
        e->dones = realloc(e->dones, (size_t)e->cap);
        e->states = realloc(e->states, sizeof(double) * (size_t)e->cap * s->state_dim);
        if (!e->obs || !e->next_obs || !e->actions || !e->rewards || !e->dones || !e->states) abort();
    }
    size_t row = (size_t)i * chunk + k;
    memcpy(e->obs + (size_t)e->T * s->obs_dim, r->obs + row * s->obs_dim, sizeof(float) * s->obs_dim);
    memcpy(e->next_obs + (size_t)e->T * s->obs_dim, r->next_obs + row * s->obs_dim, sizeof(float) * s->obs_dim);
    memcpy(e->actions + (size_t)e->T * s->act_dim, r->actions + row * s->act_dim, sizeof(float) * s->act_dim);
    memcpy(e->states + (size_t)e->T * s->state_dim, r->states + row * s->state_dim, sizeof(double) * s->state_dim);
    e->rewards[e->T] = r->rewards[row];
    e->dones[e->T] = r->dones[row];
    e->T++;
}

static void episode_free(episode_buf_t *e)
{
    free(e->obs), free(e->next_obs), free(e->actions), free(e->rewards), free(e->dones), free(e->states);
}

rldt_status_t rldt_evaluate(rldt_policy_t *p, const float *params, const rldt_env_spec_t *spec, const rldt_eval_opts_t *o,
                            rldt_eval_result_t *res)
{
    memset(res, 0, sizeof *res);
    if (o->episodes < 1) return rldt_error_set(RLDT_ERR_USAGE, "evaluation needs at least one episode");
    if (spec->obs_dim != p->spec.obs_dim || spec->act_dim != p->spec.act_dim)
        return rldt_error_set(RLDT_ERR_USAGE, "policy (obs %d, act %d) does not fit task %s (obs %d, act %d)",
                              p->spec.obs_dim, p->spec.act_dim, spec->name, spec->obs_dim, spec->act_dim);
    int n = o->n_envs < o->episodes ? o->n_envs : o->episodes, chunk = p->spec.chunk;
    if (n < 1) n = 1;
    if (n > p->max_batch) n = p->max_batch;
    double t0 = rldt_now();
    rldt_vecenv_t *venv;
    rldt_status_t st = rldt_vecenv_create(&venv, spec, n, o->max_steps, o->seed, 0, o->threads);
    if (st) return st;
    rldt_actor_t actor;
    st = rldt_actor_init(&actor, p, n, o->seed, rldt_rng_stream_id(RLDT_STREAM_POLICY, 0, 0));
    if (st) {
        rldt_vecenv_destroy(venv);
        return st;
    }
    size_t nrow = (size_t)n * chunk;
    float *actions = rldt_xmalloc(sizeof(float) * nrow * spec->act_dim);
    float *obs = rldt_xmalloc(sizeof(float) * (size_t)n * spec->obs_dim), *final_obs = rldt_xmalloc(sizeof(float) * (size_t)n * spec->obs_dim);
    float *reward = rldt_xmalloc(sizeof(float) * n), *ep_return = rldt_xcalloc((size_t)n, sizeof(float));
    int *steps = rldt_xmalloc(sizeof(int) * n), *ep_len = rldt_xcalloc((size_t)n, sizeof(int)), *done = rldt_xcalloc((size_t)n, sizeof(int));
    uint8_t *term = rldt_xmalloc((size_t)n), *trunc = rldt_xmalloc((size_t)n), *succ = rldt_xmalloc((size_t)n);
    rldt_vec_record_t rec = {0};
    episode_buf_t *eps = NULL;
    if (o->export) {
        rec.obs = rldt_xmalloc(sizeof(float) * nrow * spec->obs_dim);
        rec.next_obs = rldt_xmalloc(sizeof(float) * nrow * spec->obs_dim);
        rec.actions = rldt_xmalloc(sizeof(float) * nrow * spec->act_dim);
        rec.rewards = rldt_xmalloc(sizeof(float) * nrow);
        rec.dones = rldt_xmalloc(nrow);
        rec.states = rldt_xmalloc(sizeof(double) * nrow * spec->state_dim);
        eps = rldt_xcalloc((size_t)n, sizeof *eps);
    }
    rldt_vec_out_t out = {obs, final_obs, reward, steps, term, trunc, succ, o->export ? &rec : NULL};
    double sum = 0, sumsq = 0, len = 0;
    int finished = 0, successes = 0;
    memcpy(obs, rldt_vecenv_obs(venv), sizeof(float) * (size_t)n * spec->obs_dim);
    while (finished < o->episodes && !st) {
        rldt_actor_act(&actor, params, obs, o->deterministic, actions);
        rldt_vecenv_step(venv, actions, chunk, &out);
        for (int i = 0; i < n && !st; i++) {
            /* env i owns episodes i, i + n, ...: a fixed quota, so short episodes are not over-counted */
            int quota = o->episodes / n + (i < o->episodes % n);
            res->env_steps += steps[i];
            if (done[i] >= quota) continue;
            ep_return[i] += reward[i];
            ep_len[i] += steps[i];
            for (int k = 0; eps && k < steps[i]; k++) episode_push(&eps[i], spec, &rec, i, k, chunk);
            if (!term[i] && !trunc[i]) continue;
            sum += ep_return[i];
            sumsq += (double)ep_return[i] * ep_return[i];
            len += ep_len[i];
            successes += succ[i];
            finished++;
            done[i]++;
            if (eps) {
                episode_buf_t *e = &eps[i];
                rldt_demo_t demo = {e->T, e->obs, e->next_obs, NULL, NULL, e->actions, e->rewards, e->dones, e->states, succ[i] != 0};
                st = rldt_dataset_writer_add(o->export, &demo);
                e->T = 0;
            }
            ep_return[i] = 0;
            ep_len[i] = 0;
        }
    }
    res->episodes = finished;
    res->success_rate = finished ? (double)successes / finished : 0;
    res->return_mean = finished ? sum / finished : 0;
    res->return_std = finished ? sqrt(fmax(0.0, sumsq / finished - res->return_mean * res->return_mean)) : 0;
    res->length_mean = finished ? len / finished : 0;
    res->seconds = rldt_now() - t0;
    for (int i = 0; eps && i < n; i++) episode_free(&eps[i]);
    free(eps), free(rec.obs), free(rec.next_obs), free(rec.actions), free(rec.rewards), free(rec.dones), free(rec.states);
    free(actions), free(obs), free(final_obs), free(reward), free(ep_return), free(steps), free(ep_len), free(done);
    free(term), free(trunc), free(succ);
    rldt_actor_free(&actor);
    rldt_vecenv_destroy(venv);
    return st;
}
