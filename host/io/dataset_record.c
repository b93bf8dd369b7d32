/* dataset_record.c — turns a vector env's per-step capture into demos: one episode buffer per env, filled
 * chunk by chunk and written out when the episode ends (see rldt/dataset.h). Used by the expert collector
 * and by evaluation's rollout export. */
#include <stdlib.h>
#include <string.h>

#include "rldt/dataset.h"

/* One env's episode so far: [max_steps] rows of each field. */
typedef struct {
    int T;
    float *obs, *next_obs, *actions, *rewards;
    uint8_t *dones;
    double *states;
    uint8_t *frames; /* tasks with images: [max_steps + 1] images, step t's before it at t and after it at t + 1 */
} episode_t;

struct rldt_recorder {
    const rldt_env_spec_t *spec;
    int n, chunk, max_steps;
    size_t image_bytes;        /* one image observation (0: the task has none) */
    rldt_vec_record_t capture; /* [n][chunk] rows */
    episode_t *episodes;       /* [n] */
};

/* The fields of a capture or an episode of `rows` rows. */
static void alloc_rows(const rldt_env_spec_t *sp, size_t rows, float **obs, float **next_obs, float **actions, float **rewards,
                       uint8_t **dones, double **states)
{
    *obs = rldt_xmalloc(rows * (size_t)sp->obs_dim * sizeof(float));
    *next_obs = rldt_xmalloc(rows * (size_t)sp->obs_dim * sizeof(float));
    *actions = rldt_xmalloc(rows * (size_t)sp->act_dim * sizeof(float));
    *rewards = rldt_xmalloc(rows * sizeof(float));
    *dones = rldt_xmalloc(rows);
    *states = rldt_xmalloc(rows * (size_t)sp->state_dim * sizeof(double));
}



rldt_recorder_t *rldt_recorder_create(const rldt_env_spec_t *spec, int n, int chunk, int max_steps)
{
    rldt_recorder_t *r = rldt_xcalloc(1, sizeof *r);
    r->spec = spec;
    r->n = n;
    r->chunk = chunk;
    r->max_steps = max_steps > 0 ? max_steps : spec->max_steps;
    r->image_bytes = (size_t)spec->image_h * (size_t)spec->image_w * (size_t)spec->image_c;
    rldt_vec_record_t *c = &r->capture;
    alloc_rows(spec, (size_t)n * (size_t)chunk, &c->obs, &c->next_obs, &c->actions, &c->rewards, &c->dones, &c->states);
    if (r->image_bytes) {
        c->images = rldt_xmalloc((size_t)n * (size_t)chunk * r->image_bytes);
        c->next_images = rldt_xmalloc((size_t)n * (size_t)chunk * r->image_bytes);
    }
    c->successes = rldt_xmalloc((size_t)n * (size_t)chunk);
    r->episodes = rldt_xcalloc((size_t)n, sizeof *r->episodes);
    for (int i = 0; i < n; i++) {
        episode_t *e = &r->episodes[i];
        alloc_rows(spec, (size_t)r->max_steps, &e->obs, &e->next_obs, &e->actions, &e->rewards, &e->dones, &e->states);
        if (r->image_bytes) e->frames = rldt_xmalloc(((size_t)r->max_steps + 1) * r->image_bytes);
    }
    return r;
}

void rldt_recorder_free(rldt_recorder_t *r)
{
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        episode_t *e = &r->episodes[i];
        free(e->obs), free(e->next_obs), free(e->actions), free(e->rewards), free(e->dones), free(e->states);
        free(e->frames);
    }
    rldt_vec_record_t *c = &r->capture;
    free(c->obs), free(c->next_obs), free(c->actions), free(c->rewards), free(c->dones), free(c->states), free(c->successes);
    free(c->images), free(c->next_images);
    free(r->episodes);
    free(r);
}

rldt_vec_record_t *rldt_recorder_capture(rldt_recorder_t *r) { return &r->capture; }

rldt_status_t rldt_recorder_push(rldt_recorder_t *r, int i, int steps, rldt_dataset_writer_t *w)
{
    const rldt_env_spec_t *sp = r->spec;
    const rldt_vec_record_t *c = &r->capture;
    episode_t *e = &r->episodes[i];
    size_t od = (size_t)sp->obs_dim, ad = (size_t)sp->act_dim, sd = (size_t)sp->state_dim;
    if (e->T + steps > r->max_steps)
        return rldt_error_set(RLDT_ERR, "recorder: env %d's episode exceeds %d steps", i, r->max_steps);
    for (int k = 0; k < steps; k++) {
        size_t row = (size_t)i * (size_t)r->chunk + (size_t)k, t = (size_t)e->T++;
        memcpy(e->obs + t * od, c->obs + row * od, od * sizeof(float));
        memcpy(e->next_obs + t * od, c->next_obs + row * od, od * sizeof(float));
        memcpy(e->actions + t * ad, c->actions + row * ad, ad * sizeof(float));
        memcpy(e->states + t * sd, c->states + row * sd, sd * sizeof(double));
        e->rewards[t] = c->rewards[row];
        e->dones[t] = c->dones[row];
        if (r->image_bytes) { /* the image after step t is the one before step t + 1 */
            memcpy(e->frames + t * r->image_bytes, c->images + row * r->image_bytes, r->image_bytes);
            memcpy(e->frames + (t + 1) * r->image_bytes, c->next_images + row * r->image_bytes, r->image_bytes);
        }
    }
    size_t last = (size_t)i * (size_t)r->chunk + (size_t)steps - 1;
    if (steps < 1 || !c->dones[last]) return RLDT_OK;
    rldt_demo_t demo = {.T = e->T, .obs = e->obs, .next_obs = e->next_obs, .actions = e->actions, .rewards = e->rewards,
                        .dones = e->dones, .states = e->states, .image = e->frames,
                        .next_image = e->frames ? e->frames + r->image_bytes : NULL, .success = c->successes[last] != 0};
    e->T = 0;
    return rldt_dataset_writer_add(w, &demo);
}
