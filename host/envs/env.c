/* env.c — one environment: state allocation (and a simulator task's model and data), seeded reset,
 * clipped step with the step limit, and the per-episode seed derivation (see rldt/env.h). The
 * task-specific physics lives in host/envs/. */
#include "rldt/env.h"

#include <math.h>
#include <stdlib.h>

rldt_status_t rldt_env_model_load(const rldt_env_spec_t *spec, rldt_env_model_t **out)
{
    *out = NULL;
    return spec->ops->model_load ? spec->ops->model_load(spec->model, out) : RLDT_OK;
}

void rldt_env_model_free(const rldt_env_spec_t *spec, rldt_env_model_t *model)
{
    if (model) spec->ops->model_free(model);
}

rldt_status_t rldt_env_open(rldt_env_t *env, const rldt_env_spec_t *spec, int max_steps, const rldt_env_model_t *model)
{
    const rldt_env_ops_t *ops = spec->ops;
    *env = (rldt_env_t){.spec = spec, .max_steps = max_steps > 0 ? max_steps : spec->max_steps};
    if (spec->gym) return rldt_error_set(RLDT_ERR_USAGE, "%s: a Gymnasium env runs in worker processes and exists only inside a vector env", spec->name);
    env->state = rldt_xcalloc(1, ops->state_size + ops->runtime_size);
    rldt_rng_init(&env->rng, 0, 0);
    rldt_status_t st = ops->attach ? ops->attach(env->state, model) : RLDT_OK;
    if (st) {
        free(env->state);
        env->state = NULL;
    }
    return st;
}

rldt_status_t rldt_env_init(rldt_env_t *env, const rldt_env_spec_t *spec, int max_steps)
{
    rldt_env_model_t *model;
    rldt_status_t st = rldt_env_model_load(spec, &model);
    if (!st) st = rldt_env_open(env, spec, max_steps, model);
    if (st) {
        rldt_env_model_free(spec, model);
        *env = (rldt_env_t){.spec = spec};
        return st;
    }
    env->owned = model;
    return RLDT_OK;
}

void rldt_env_free(rldt_env_t *env)
{
    if (env->state && env->spec->ops->detach) env->spec->ops->detach(env->state);
    free(env->state);
    env->state = NULL;
    rldt_env_model_free(env->spec, env->owned);
    env->owned = NULL;
}

void rldt_env_begin(rldt_env_t *env, uint64_t seed)
{
    rldt_rng_init(&env->rng, seed, rldt_rng_stream_id(RLDT_STREAM_ENV, 0, 0));
    env->t = 0;
}

void rldt_env_reset(rldt_env_t *env, uint64_t seed, float *obs)
{
    rldt_env_begin(env, seed);
    env->spec->ops->reset(env->state, &env->rng, obs);
}

rldt_status_t rldt_env_render(const rldt_env_spec_t *spec, const double *state, const float *action, rldt_canvas_t *c)
{
    if (!spec->ops->render) return rldt_error_set(RLDT_ERR_USAGE, "task %s does not render frames", spec->name);
    spec->ops->render(state, action, c);
    return RLDT_OK;
}

struct mjData_ *rldt_env_mj_scene(rldt_env_t *env, const struct mjModel_ **model)
{
    *model = NULL;
    return env->state && env->spec->ops->mj_scene ? env->spec->ops->mj_scene(env->state, model) : NULL;
}

rldt_status_t rldt_env_renderer_create(rldt_env_t *env, rldt_renderer_t **out)
{
    *out = NULL;
    const rldt_env_spec_t *sp = env->spec;
    const struct mjModel_ *m;
    if (!sp->image_h) return rldt_error_set(RLDT_ERR_USAGE, "task %s has no image observations", sp->name);
    if (!rldt_env_mj_scene(env, &m)) return rldt_error_set(RLDT_ERR_USAGE, "task %s has no MuJoCo scene to render", sp->name);
    rldt_render_opts_t o = {.width = sp->image_w, .height = sp->image_h, .camera = sp->camera};
    return rldt_renderer_create(out, m, &o);
}

void rldt_env_draw(rldt_env_t *env, rldt_renderer_t *r, uint8_t *rgb)
{
    const struct mjModel_ *m;
    rldt_renderer_draw(r, rldt_env_mj_scene(env, &m), rgb);
}

void rldt_env_clip_action(const rldt_env_spec_t *spec, const float *in, float *out)
{
    for (int j = 0; j < spec->act_dim; j++) {
        float lo = spec->act_low[j], hi = spec->act_high[j], a = in[j];
        out[j] = isnan(a) ? 0.5f * (lo + hi) : fminf(fmaxf(a, lo), hi);
    }
}

/* rldt_env_count_step's rule, inlined into rldt_env_step (the hot path of the native tasks). */
static inline void count_step(rldt_env_t *env, rldt_step_t *s)
{
    /* t counts up to the limit and stays there: a restored snapshot may carry any int (INT_MAX must not
     * overflow, a negative count must not make an endless episode) */
    env->t = env->t >= 0 && env->t < env->max_steps ? env->t + 1 : env->max_steps;
    s->truncated = !s->terminated && (s->truncated || env->t >= env->max_steps);
}

rldt_step_t rldt_env_step(rldt_env_t *env, const float *action, float *obs, float *executed)
{
    float a[RLDT_ENV_MAX_ACT];
    rldt_env_clip_action(env->spec, action, a);
    if (executed)
        for (int j = 0; j < env->spec->act_dim; j++) executed[j] = a[j];
    rldt_step_t s = env->spec->ops->step(env->state, a, obs);
    count_step(env, &s);
    return s;
}

void rldt_env_count_step(rldt_env_t *env, rldt_step_t *s) { count_step(env, s); }

void rldt_env_get_state(const rldt_env_t *env, double *out) { env->spec->ops->get_state(env->state, out); }

rldt_status_t rldt_env_set_state(rldt_env_t *env, const double *in, float *obs)
{
    if (!env->spec->ops->set_state) return rldt_error_set(RLDT_ERR_USAGE, "task %s cannot start from a given state", env->spec->name);
    for (int i = 0; i < env->spec->state_dim; i++)
        if (!isfinite(in[i])) return rldt_error_set(RLDT_ERR_USAGE, "%s: state value %d is %g, not a finite number", env->spec->name, i, in[i]);
    env->t = 0;
    env->spec->ops->set_state(env->state, in, obs);
    return RLDT_OK;
}

rldt_status_t rldt_env_expert(const rldt_env_t *env, rldt_rng_t *rng, float noise, float *action)
{
    const rldt_env_spec_t *sp = env->spec;
    if (!sp->ops->expert) {
        for (int j = 0; j < sp->act_dim; j++) action[j] = 0.5f * (sp->act_low[j] + sp->act_high[j]);
        return rldt_error_set(RLDT_ERR_USAGE, "task %s has no scripted expert (its demonstrations come from a policy checkpoint)",
                              sp->name);
    }
    sp->ops->expert(env->state, rng, action);
    rldt_env_add_noise(sp, rng, noise, action);
    return RLDT_OK;
}

bool rldt_env_has_expert(const rldt_env_spec_t *spec) { return spec->ops->expert || spec->worker_expert; }

void rldt_env_add_noise(const rldt_env_spec_t *spec, rldt_rng_t *rng, float noise, float *action)
{
    if (noise > 0.0f)
        for (int j = 0; j < spec->act_dim; j++) action[j] += noise * rldt_rng_normal(rng);
}

uint64_t rldt_env_episode_seed(uint64_t seed, uint32_t rank, uint32_t index, uint64_t episode)
{
    rldt_philox_block_t b = rldt_philox(seed, rldt_rng_stream_id(RLDT_STREAM_ENV, rank, index), episode);
    return (uint64_t)b.v[0] | ((uint64_t)b.v[1] << 32);
}
