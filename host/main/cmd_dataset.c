/* cmd_dataset.c — `rldt dataset info FILE.h5 [obs_keys=K1,K2] [image_keys=K] [mask=NAME]`: validate a
 * robomimic-layout demonstration file (rldt's or robomimic's own) and summarize it (env, demos, samples,
 * observation keys and shapes, action range, returns, success, masks, observation statistics). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rldt/dataset.h"

#define MAX_DIMS_SHOWN 8

static void print_vector(const char *label, const float *x, int n)
{
    printf("%-14s[", label);
    for (int j = 0; j < n && j < MAX_DIMS_SHOWN; j++) printf("%s%.4g", j ? ", " : "", x[j]);
    printf("%s]\n", n > MAX_DIMS_SHOWN ? ", ..." : "");
}

static void print_summary(const char *path, const rldt_dataset_t *d)
{
    const rldt_dataset_meta_t *m = &d->meta;
    printf("file          %s (valid)\n", path);
    printf("env           %s (%s reward, max %d steps)%s\n", m->env_name, m->reward_kind == RLDT_REWARD_SPARSE ? "sparse" : "dense",
           m->max_steps, m->rldt_spec ? "" : " (robomimic file: spec read from the data)");
    if (d->collect_args) printf("collected     %s\n", d->collect_args);
    printf("demos         %d (mask train %d, valid %d)\n", d->n_demos, d->n_train, d->n_valid);
    size_t min_len = d->n_samples, max_len = 0;
    double ret_sum = 0.0, ret_sq = 0.0, ret_min = INFINITY, ret_max = -INFINITY;
    int successes = 0;
    for (int e = 0; e < d->n_demos; e++) {
        size_t len = d->ep_start[e + 1] - d->ep_start[e];
        min_len = len < min_len ? len : min_len;
        max_len = len > max_len ? len : max_len;
        double r = d->ep_return[e];
        ret_sum += r;
        ret_sq += r * r;
        ret_min = fmin(ret_min, r);
        ret_max = fmax(ret_max, r);
        successes += d->ep_success[e];
    }
    double mean = ret_sum / d->n_demos;
    printf("samples       %zu (episode length min %zu, mean %.1f, max %zu)\n", d->n_samples, min_len,
           (double)d->n_samples / d->n_demos, max_len);
    printf("obs           [T, %d] =", m->obs_dim);
    for (int k = 0; k < m->n_obs_keys; k++) printf("%s obs/%s [T, %d]", k ? " +" : "", m->obs_keys[k], m->obs_key_dims[k]);
    printf("%s\n", m->has_next_obs ? " (and next_obs)" : " (no next_obs)");
    for (int k = 0; k < m->n_image_keys; k++)
        printf("image         obs/%s uint8 [T, %d, %d, %d]%s\n", m->image_keys[k].name, m->image_keys[k].h, m->image_keys[k].w,
               m->image_keys[k].c, m->has_next_obs ? " (and next_obs)" : "");
    printf("actions       [T, %d]%s\n", m->act_dim, m->actions_normalized ? " normalised to [-1, 1] on disk" : "");
    printf("states        float64 [T, %d]%s\n", m->state_dim, m->state_dim ? "" : " (none: the env exposes no simulator state)");
    print_vector("action min", d->act_min, m->act_dim);
    print_vector("action max", d->act_max, m->act_dim);
    print_vector("action low", m->act_low, m->act_dim);
    print_vector("action high", m->act_high, m->act_dim);
    print_vector("obs mean", d->obs_mean, m->obs_dim);
    print_vector("obs std", d->obs_std, m->obs_dim);
    printf("return        mean %.4g, std %.4g, min %.4g, max %.4g\n", mean, sqrt(fmax(ret_sq / d->n_demos - mean * mean, 0.0)),
           ret_min, ret_max);
    printf("success       %d/%d (%.1f%%)\n", successes, d->n_demos, 100.0 * successes / d->n_demos);
}

enum { ARG_OBS_KEYS, ARG_IMAGE_KEYS, ARG_MASK, N_ARGS };
static const rldt_cli_arg_t ARGS[N_ARGS] = {
    {"obs_keys", RLDT_ARG_TEXT, "", 0, 0, "low-dim keys of obs/ to concatenate (as data.obs_keys; \"\" = the file's own)"},
    {"image_keys", RLDT_ARG_TEXT, "", 0, 0, "uint8 image keys of obs/ to load and check"},
    {"mask", RLDT_ARG_TEXT, "", 0, 0, "only the demos of /mask/<mask> (\"\" = all)"},
};

int rldt_cmd_dataset(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "info") != 0 || strchr(argv[2], '=')) return rldt_cli_usage("dataset");
    const char *text[N_ARGS];
    double num[N_ARGS];
    if (rldt_cli_args(ARGS, N_ARGS, argc, argv, 3, text, num)) return RLDT_ERR_USAGE;
    rldt_dataset_t d;
    rldt_dataset_opts_t o = {text[ARG_OBS_KEYS], text[ARG_IMAGE_KEYS], text[ARG_MASK][0] ? text[ARG_MASK] : NULL};
    rldt_status_t st = rldt_dataset_load_opts(&d, argv[2], &o);
    if (st) return rldt_cli_fail(st);
    print_summary(argv[2], &d);
    rldt_dataset_free(&d);
    return 0;
}
