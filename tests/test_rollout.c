/* test_rollout.c — evaluation: the episode quota, exported episodes as a valid dataset, frames rendered
 * per step, and the errors for a task that cannot render or a policy that does not fit the task. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "rldt/rollout.h"

/* A randomly initialised chunk-4 policy for `spec` on the CPU backend. */
static float *random_policy(const rldt_env_spec_t *spec, rldt_policy_t *p, int batch)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.policy_width = 32;
    rldt_policy_spec_t ps;
    cr_assert_eq(rldt_policy_spec_from_config(&cfg, spec->obs_dim, spec->act_dim, &ps), RLDT_OK);
    cr_assert_eq(rldt_policy_init(p, &ps, batch, rldt_backend_cpu()), RLDT_OK);
    rldt_policy_set_normalizers(p, (float[8]){0}, (float[8]){1, 1, 1, 1, 1, 1, 1, 1}, spec->act_low, spec->act_high);
    float *w = malloc(sizeof(float) * p->nparams);
    rldt_rng_t r;
    rldt_rng_init(&r, 2, 2);
    rldt_policy_init_params(p, w, &r);
    return w;
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s missing", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        n += l > s && strcmp(e->d_name + l - s, suffix) == 0;
    }
    closedir(d);
    return n;
}

Test(rollout, export_and_frames)
{
    const rldt_env_spec_t *spec = rldt_env_find("pendulum");
    rldt_policy_t p;
    float *w = random_policy(spec, &p, 8);
    char dir[128], frames[256], data[256];
    test_tmpdir(dir, sizeof dir);
    snprintf(frames, sizeof frames, "%s/frames", dir);
    snprintf(data, sizeof data, "%s/rollouts.h5", dir);
    rldt_dataset_writer_t *wr;
    cr_assert_eq(rldt_dataset_writer_open(&wr, data, spec, 0, NULL), RLDT_OK);
    /* 5 episodes on 3 envs: quotas 2, 2, 1 */
    rldt_eval_opts_t o = {5, 3, 1, false, 11, 0, wr, frames};
    rldt_eval_result_t res;
    cr_assert_eq(rldt_evaluate(&p, NULL, w, spec, &o, &res), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_dataset_writer_close(wr, 1), RLDT_OK);
    cr_assert_eq(res.episodes, 5);
    cr_assert_float_eq(res.length_mean, 200.0, 1e-9);
    cr_assert(res.return_mean < 0 && res.success_rate >= 0 && res.success_rate <= 1);
    rldt_dataset_t d;
    cr_assert_eq(rldt_dataset_load(&d, data, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(d.n_demos, 5);
    cr_assert_eq(d.n_samples, 1000);
    double ret = 0;
    for (int e = 0; e < d.n_demos; e++) ret += d.ep_return[e] / d.n_demos;
    cr_assert_float_eq(ret, res.return_mean, 1e-3 * fabs(ret), "exported returns %g vs evaluated %g", ret, res.return_mean);
    rldt_dataset_free(&d);
    cr_assert_eq(count_files(frames, ".png"), 200, "one frame per step of env 0's first episode");
    /* a task without a renderer, and a policy for another task */
    rldt_env_ops_t ops = *spec->ops;
    ops.render = NULL;
    rldt_env_spec_t blind = *spec;
    blind.ops = &ops;
    o.export = NULL;
    cr_assert_eq(rldt_evaluate(&p, NULL, w, &blind, &o, &res), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "does not render"), "%s", rldt_error_message());
    o.frames_dir = NULL;
    cr_assert_eq(rldt_evaluate(&p, NULL, w, rldt_env_find("reach2d"), &o, &res), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "does not fit task reach2d"), "%s", rldt_error_message());
    test_rmtree(dir);
    rldt_policy_free(&p);
    free(w);
}
