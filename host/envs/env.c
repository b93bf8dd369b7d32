/* env.c — one environment: state allocation, seeded reset, clipped step with the step limit, and the
 * per-episode seed derivation (see rldt/env.h). The task-specific physics lives in host/envs/. */
#include "rldt/env.h"

#include <math.h>
#include <stdlib.h>

void rldt_env_init(rldt_env_t *env, const rldt_env_spec_t *spec, int max_steps)
{
    env->spec = spec;
    env->state = rldt_xcalloc(1, spec->ops->state_size);
    env->max_steps = max_steps > 0 ? max_steps : spec->max_steps;
    env->t = 0;
    rldt_rng_init(&env->rng, 0, 0);
}

void rldt_env_free(rldt_env_t *env)
{
    free(env->state);
    env->state = NULL;
}

void rldt_env_reset(rldt_env_t *env, uint64_t seed, float *obs)
{
    rldt_rng_init(&env->rng, seed, rldt_rng_stream_id(RLDT_STREAM_ENV, 0, 0));
    env->t = 0;
    env->spec->ops->reset(env->state, &env->rng, obs);
}

rldt_status_t rldt_env_render(const rldt_env_spec_t *spec, const double *state, const float *action, rldt_canvas_t *c)
{
    if (!spec->ops->render) return rldt_error_set(RLDT_ERR_USAGE, "task %s does not render frames", spec->name);
    spec->ops->render(state, action, c);
    return RLDT_OK;
}

void rldt_env_clip_action(const rldt_env_spec_t *spec, const float *in, float *out)
{
    for (int j = 0; j < spec->act_dim; j++) {
        float lo = spec->act_low[j], hi = spec->act_high[j], a = in[j];
        out[j] = isnan(a) ? 0.5f * (lo + hi) : fminf(fmaxf(a, lo), hi);
    }
}

rldt_step_t rldt_env_step(rldt_env_t *env, const float *action, float *obs, float *executed)
{
    float a[RLDT_ENV_MAX_ACT];
    rldt_env_clip_action(env->spec, action, a);
    if (executed)
        for (int j = 0; j < env->spec->act_dim; j++) executed[j] = a[j];
    rldt_step_t s = env->spec->ops->step(env->state, a, obs);
    /* t counts up to the limit and stays there: a restored snapshot may carry any int (INT_MAX must not
     * overflow, a negative count must not make an endless episode) */
    env->t = env->t >= 0 && env->t < env->max_steps ? env->t + 1 : env->max_steps;
    s.truncated = !s.terminated && env->t >= env->max_steps;
    return s;
}

void rldt_env_get_state(const rldt_env_t *env, double *out) { env->spec->ops->get_state(env->state, out); }

void rldt_env_expert(const rldt_env_t *env, rldt_rng_t *rng, float noise, float *action)
{
    env->spec->ops->expert(env->state, rng, action);
    if (noise > 0.0f)
        for (int j = 0; j < env->spec->act_dim; j++) action[j] += noise * rldt_rng_normal(rng);
}

uint64_t rldt_env_episode_seed(uint64_t seed, uint32_t rank, uint32_t index, uint64_t episode)
{
    rldt_philox_block_t b = rldt_philox(seed, rldt_rng_stream_id(RLDT_STREAM_ENV, rank, index), episode);
    return (uint64_t)b.v[0] | ((uint64_t)b.v[1] << 32);
}
