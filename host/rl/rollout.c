/* rollout.c — acting with a flow policy in a vector env, and evaluation (see rldt/rollout.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/log.h"
#include "rldt/path.h"
#include "rldt/rollout.h"

rldt_status_t rldt_actor_init(rldt_actor_t *a, rldt_policy_t *p, rldt_pixels_t *px, int n, uint64_t seed, uint64_t stream)
{
    memset(a, 0, sizeof *a);
    if (n > p->max_batch) return rldt_error_set(RLDT_ERR_USAGE, "actor: %d envs exceed the policy's batch %d", n, p->max_batch);
    if (px && px->enc.ws && n > px->enc.max_batch)
        return rldt_error_set(RLDT_ERR_USAGE, "actor: %d envs exceed the image encoder's batch %d", n, px->enc.max_batch);
    const rldt_backend_t *be = p->be;
    a->policy = p;
    a->pixels = px && px->enc.ws ? px : NULL;
    a->n = n;
    a->obs_host = rldt_xmalloc(sizeof(float) * (size_t)n * p->spec.obs_dim);
    a->x_host = rldt_xmalloc(sizeof(float) * (size_t)n * p->spec.D);
    a->obs_dev = be->alloc(sizeof(float) * (size_t)n * p->spec.obs_dim);
    a->x_dev = be->alloc(sizeof(float) * (size_t)n * p->spec.D);
    if (a->pixels) a->img_dev = be->alloc(rldt_pixels_image_bytes(px) * (size_t)n);
    rldt_rng_init(&a->rng, seed, stream);
    if (!a->obs_dev || !a->x_dev || (a->pixels && !a->img_dev)) {
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
        if (a->img_dev) a->policy->be->free(a->img_dev);
    }
    free(a->obs_host), free(a->x_host);
    memset(a, 0, sizeof *a);
}

void rldt_actor_act(rldt_actor_t *a, const float *params, const float *obs, const uint8_t *images, bool deterministic,
                    float *actions)
{
    rldt_policy_t *p = a->policy;
    const rldt_backend_t *be = p->be;
    size_t nx = (size_t)a->n * p->spec.D;
    rldt_pixels_observe(a->pixels, p, obs, a->obs_host, a->n);
    be->upload(a->obs_dev, a->obs_host, sizeof(float) * (size_t)a->n * p->spec.obs_dim);
    if (a->pixels) { /* the features of the images, not shifted */
        be->upload(a->img_dev, images, rldt_pixels_image_bytes(a->pixels) * (size_t)a->n);
        rldt_pixels_encode(a->pixels, params, a->obs_dev, a->img_dev, a->n, NULL);
    }
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

/* Writes env 0's `steps` captured steps as <dir>/frame_<n>.png, n counting from *frame: the image
 * observations of a task with images (RGB), else the task's drawing of its state and action. */
static rldt_status_t write_frames(const rldt_env_spec_t *spec, const rldt_vec_record_t *rec, int chunk, int steps,
                                  const char *dir, int *frame)
{
    rldt_canvas_t c;
    rldt_canvas_init(&c, 256, 256);
    size_t image_bytes = (size_t)spec->image_h * (size_t)spec->image_w * (size_t)spec->image_c;
    rldt_status_t st = RLDT_OK;
    for (int k = 0; k < steps && !st; k++) {
        if (!image_bytes) {
            memset(c.rgb, 255, (size_t)c.w * c.h * 3);
            st = rldt_env_render(spec, rec->states + (size_t)k * spec->state_dim, rec->actions + (size_t)k * spec->act_dim, &c);
        }
        char path[RLDT_PATH_MAX + 1];
        if (!st) st = rldt_path_format(path, sizeof path, "%s/frame_%05d.png", dir, (*frame)++);
        if (!st && image_bytes) st = rldt_png_write(path, rec->images + (size_t)k * image_bytes, spec->image_w, spec->image_h);
        else if (!st) st = rldt_png_write(path, c.rgb, c.w, c.h);
    }
    rldt_canvas_free(&c);
    return st;
}

int rldt_eval_envs(const rldt_eval_opts_t *o, int max_batch)
{
    int n = o->n_envs < o->episodes ? o->n_envs : o->episodes;
    if (n > max_batch) n = max_batch;
    return n < 1 ? 1 : n;
}

static void flow_act(void *ctx, const float *obs, const uint8_t *images, int n, bool deterministic, float *actions)
{
    rldt_flow_agent_t *f = ctx;
    rldt_actor_act(&f->actor, f->params, obs, images, deterministic, actions);
}

rldt_status_t rldt_flow_agent_init(rldt_flow_agent_t *f, rldt_policy_t *p, rldt_pixels_t *px, const float *params, int n,
                                   uint64_t seed, rldt_agent_t *out)
{
    f->params = params;
    rldt_status_t st = rldt_actor_init(&f->actor, p, px, n, seed, rldt_rng_stream_id(RLDT_STREAM_POLICY, 0, 0));
    const rldt_pixels_t *see = f->actor.pixels;
    *out = (rldt_agent_t){see ? see->od : p->spec.obs_dim, p->spec.act_dim, p->spec.chunk, n, see ? see->enc.spec.h : 0,
                          see ? see->enc.spec.w : 0, see ? see->enc.spec.c : 0, flow_act, f};
    return st;
}

void rldt_flow_agent_free(rldt_flow_agent_t *f) { rldt_actor_free(&f->actor); }

static void noisy_act(void *ctx, const float *obs, const uint8_t *images, int n, bool deterministic, float *actions)
{
    rldt_noisy_agent_t *a = ctx;
    a->inner->act(a->inner->ctx, obs, images, n, deterministic, actions);
    for (size_t i = 0; i < (size_t)n * a->inner->chunk * a->inner->act_dim; i++) actions[i] += a->noise * rldt_rng_normal(&a->rng);
}

void rldt_noisy_agent_init(rldt_noisy_agent_t *a, const rldt_agent_t *inner, float noise, uint64_t seed, rldt_agent_t *out)
{
    a->inner = inner;
    a->noise = noise;
    rldt_rng_init(&a->rng, seed, rldt_rng_stream_id(RLDT_STREAM_POLICY, 3, 0));
    *out = *inner;
    out->act = noisy_act;
    out->ctx = a;
}

rldt_status_t rldt_evaluate(rldt_policy_t *p, rldt_pixels_t *px, const float *params, const rldt_env_spec_t *spec,
                            const rldt_eval_opts_t *o, rldt_eval_result_t *res)
{
    memset(res, 0, sizeof *res);
    rldt_flow_agent_t f;
    rldt_agent_t ag;
    rldt_status_t st = rldt_flow_agent_init(&f, p, px, params, rldt_eval_envs(o, p->max_batch), o->seed, &ag);
    if (!st) st = rldt_evaluate_agent(&ag, spec, o, res);
    rldt_flow_agent_free(&f);
    return st;
}

rldt_status_t rldt_evaluate_agent(const rldt_agent_t *ag, const rldt_env_spec_t *spec, const rldt_eval_opts_t *o,
                                  rldt_eval_result_t *res)
{
    memset(res, 0, sizeof *res);
    if (o->episodes < 1) return rldt_error_set(RLDT_ERR_USAGE, "evaluation needs at least one episode");
    if (spec->obs_dim != ag->obs_dim || spec->act_dim != ag->act_dim)
        return rldt_error_set(RLDT_ERR_USAGE, "policy (obs %d, act %d) does not fit task %s (obs %d, act %d)",
                              ag->obs_dim, ag->act_dim, spec->name, spec->obs_dim, spec->act_dim);
    rldt_status_t shape = rldt_pixels_check_task(ag->image_h, ag->image_w, ag->image_c, spec);
    if (shape) return shape;
    int n = rldt_eval_envs(o, ag->max_batch), chunk = ag->chunk;
    if (o->frames_dir && !spec->ops->render && !spec->image_h)
        return rldt_error_set(RLDT_ERR_USAGE, "task %s does not render frames (the MuJoCo tasks' *_rgb variants do)", spec->name);
    rldt_status_t made = o->frames_dir ? rldt_mkdirs(o->frames_dir) : RLDT_OK;
    if (made) return made;
    double t0 = rldt_now();
    rldt_vecenv_t *venv;
    rldt_status_t st = rldt_vecenv_create(&venv, spec, n, o->max_steps, o->seed, 0, o->threads);
    if (st) return st;
    float *actions = rldt_xmalloc(sizeof(float) * (size_t)n * chunk * spec->act_dim);
    float *ep_return = rldt_xcalloc((size_t)n, sizeof(float));
    int *ep_len = rldt_xcalloc((size_t)n, sizeof(int)), *done = rldt_xcalloc((size_t)n, sizeof(int));
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(venv, &out);
    rldt_recorder_t *rec = o->export || o->frames_dir ? rldt_recorder_create(spec, n, chunk, o->max_steps) : NULL;
    if (rec) out.record = rldt_recorder_capture(rec);
    int frame = o->frames_dir ? 0 : -1; /* next frame of env 0's first episode; -1: none (left) to draw */
    double sum = 0, sumsq = 0, len = 0;
    int finished = 0, successes = 0;
    memcpy(out.obs, rldt_vecenv_obs(venv), sizeof(float) * (size_t)n * spec->obs_dim);
    size_t n_actions = (size_t)n * chunk * spec->act_dim;
    while (finished < o->episodes && !st) {
        ag->act(ag->ctx, out.obs, ag->image_h ? rldt_vecenv_images(venv) : NULL, n, o->deterministic, actions);
        for (size_t j = 0; j < n_actions && !st; j++)
            if (!isfinite(actions[j]))
                st = rldt_error_set(RLDT_ERR, "evaluation: the policy gave a non-finite action (env %zu, dimension %zu, after %d "
                                    "finished episodes): its weights or normalisers are broken",
                                    j / ((size_t)chunk * spec->act_dim), j % (size_t)spec->act_dim, finished);
        if (st) break;
        if ((st = rldt_vecenv_step(venv, actions, chunk, &out))) break;
        for (int i = 0; i < n && !st; i++) {
            /* env i owns episodes i, i + n, ...: a fixed quota, so short episodes are not over-counted */
            int quota = o->episodes / n + (i < o->episodes % n);
            res->env_steps += out.steps[i];
            if (i == 0 && frame >= 0 && !st) {
                st = write_frames(spec, out.record, chunk, out.steps[0], o->frames_dir, &frame);
                if (out.terminated[0] || out.truncated[0]) frame = -1;
            }
            if (done[i] >= quota) continue;
            ep_return[i] += out.reward[i];
            ep_len[i] += out.steps[i];
            if (o->export) st = rldt_recorder_push(rec, i, out.steps[i], o->export);
            if (!out.terminated[i] && !out.truncated[i]) continue;
            sum += ep_return[i];
            sumsq += (double)ep_return[i] * ep_return[i];
            len += ep_len[i];
            successes += out.success[i];
            finished++;
            done[i]++;
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
    rldt_recorder_free(rec);
    rldt_vecenv_out_free(&out);
    free(actions), free(ep_return), free(ep_len), free(done);
    rldt_vecenv_destroy(venv);
    return st;
}
