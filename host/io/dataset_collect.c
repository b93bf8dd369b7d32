/* dataset_collect.c — scripted-expert demonstrations: opts->envs envs (RLDT_COLLECT_ENVS) in a vector env, the expert
 * acting with Gaussian noise, every finished episode written as one demo by the recorder (see rldt/dataset.h). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/dataset.h"
#include "rldt/log.h"

static char *collect_args(const rldt_collect_opts_t *o, int envs)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "expert", "scripted");
    cJSON_AddNumberToObject(root, "noise", o->noise);
    cJSON_AddNumberToObject(root, "seed", (double)o->seed);
    cJSON_AddNumberToObject(root, "demos", o->demos);
    cJSON_AddNumberToObject(root, "envs", envs);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

rldt_status_t rldt_dataset_collect(const rldt_collect_opts_t *o)
{
    const rldt_env_spec_t *sp = o->spec;
    if (!rldt_env_has_expert(sp)) /* nothing to record: the demos would hold zero actions */
        return rldt_error_set(RLDT_ERR_USAGE, "collect: task %s has no scripted expert (its demonstrations must come from a policy)",
                              sp->name);
    const int n = o->envs > 0 ? o->envs : RLDT_COLLECT_ENVS;
    size_t ad = (size_t)sp->act_dim;
    rldt_vecenv_t *v;
    rldt_status_t st = rldt_vecenv_create(&v, sp, n, o->max_steps, o->seed, 0, o->threads);
    if (st) return st;
    rldt_dataset_writer_t *w;
    char *args = collect_args(o, n);
    st = rldt_dataset_writer_open(&w, o->path, sp, o->max_steps, args);
    free(args);
    if (st) {
        rldt_vecenv_destroy(v);
        return st;
    }

    float *actions = rldt_xmalloc((size_t)n * ad * sizeof(float));
    rldt_recorder_t *rec = rldt_recorder_create(sp, n, 1, o->max_steps);
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    out.record = rldt_recorder_capture(rec);
    rldt_rng_t *rngs = rldt_xmalloc((size_t)n * sizeof *rngs);
    for (int i = 0; i < n; i++) rldt_rng_init(&rngs[i], o->seed, rldt_rng_stream_id(RLDT_STREAM_POLICY, 0, (uint32_t)i));

    int written = 0, succeeded = 0;
    double t0 = rldt_now(), last_log = t0;
    while (!st && written < o->demos) {
        if ((st = rldt_vecenv_expert(v, rngs, (float)o->noise, actions))) break;
        if ((st = rldt_vecenv_step(v, actions, 1, &out))) break;
        for (int i = 0; !st && i < n && written < o->demos; i++) {
            st = rldt_recorder_push(rec, i, out.steps[i], w);
            if (out.terminated[i] || out.truncated[i]) {
                written++;
                succeeded += out.success[i];
            }
        }
        double now = rldt_now();
        if (now - last_log >= 1.0 && written < o->demos) {
            rldt_info("collect %s: %d/%d demos, %zu samples, %.0f samples/s", sp->name, written, o->demos,
                      rldt_dataset_writer_samples(w), (double)rldt_dataset_writer_samples(w) / (now - t0));
            last_log = now;
        }
    }
    size_t samples = rldt_dataset_writer_samples(w);
    if (st)
        rldt_dataset_writer_abort(w);
    else
        st = rldt_dataset_writer_close(w, o->seed);
    if (!st)
        rldt_info("collect %s: wrote %d demos (%d successful), %zu samples to %s in %.2f s", sp->name, written, succeeded,
                  samples, o->path, rldt_now() - t0);

    rldt_recorder_free(rec);
    rldt_vecenv_out_free(&out);
    free(rngs);
    free(actions);
    rldt_vecenv_destroy(v);
    return st;
}
