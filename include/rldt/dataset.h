/* rldt/dataset.h — demonstration datasets in the robomimic HDF5 layout: writer, validating reader, and the
 * scripted-expert collector behind `rldt collect`.
 *
 * Layout (what robomimic's loader and h5py expect):
 *   /data                       attrs: total (int64, samples in all demos), env_args (JSON string:
 *                               {"env_name", "type": 2, "env_kwargs": {the spec}, "rldt_version"}),
 *                               collect_args (JSON string: how the demos were made; optional)
 *   /data/demo_<i>              i = 0, 1, ...; attrs: num_samples (int64), success (int64, 0/1)
 *       obs/<obs_key>           float32 [T, obs_dim]      (obs_key from the spec, e.g. "state")
 *       obs/agentview_image     uint8 [T, h, w, c]        only when the spec has an image (gzip)
 *       next_obs/<same keys>    the observation after each step (the terminal one on the last step)
 *       actions                 float32 [T, act_dim]      the executed (clipped) actions, in [-1, 1] (below)
 *       rewards                 float32 [T]               (robomimic writes float64; readers convert)
 *       dones                   uint8 [T]                 1 on the last step of the demo
 *       states                  float64 [T, state_dim]    the simulator state before each step
 *   /mask/train, /mask/valid    fixed-length byte strings naming demos (90/10 split, seeded)
 * env_args["type"] is robomimic's EnvType.GYM_TYPE (2): the task is a gym-style env named env_name.
 * env_args["env_kwargs"] carries the spec (obs_dim, act_dim, state_dim, act_low, act_high, max_steps,
 * reward_kind, image_shape, camera (tasks with images), control_hz, success_threshold, success, obs_key,
 * actions_normalized): the reader checks every dataset's shape against it. Datasets are chunked; files are
 * written to "<path>.tmp" and renamed on success, so a failed write never leaves a partial file at <path>.
 *
 * Actions on disk are normalised to [-1, 1] (robomimic requires it): a = (u - mid) / half with
 * mid = (act_low + act_high) / 2, half = (act_high - act_low) / 2 per dimension, u the action in the task's
 * units, and env_kwargs.actions_normalized = true says so. The reader maps them back (u = a * half + mid),
 * so every rldt_dataset_t holds actions in the task's units; files without the flag (older rldt files)
 * hold task units and are read as they are.
 *
 * Files from robomimic itself (or any writer of its layout: env_args with env_name, type and env_kwargs
 * but without rldt's spec fields obs_dim/obs_key) are read too: the spec then comes from the data. The
 * observation is the concatenation of the low-dim keys the caller names (obs/<key> float32 or float64
 * [T, d]); act_dim and state_dim are the widths of actions and states (states and next_obs may be absent);
 * actions must lie in [-1, 1] (robomimic's convention); max_steps is the longest demo; a demo without a
 * `success` attribute counts as a success when one of its rewards reaches 1 (robosuite's sparse reward);
 * reward_kind is sparse. uint8 image keys (obs/<key> [T, H, W, C]) are loaded when named. */
#ifndef RLDT_DATASET_H
#define RLDT_DATASET_H

#include <stdbool.h>

#include "rldt/env.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_DATASET_IMAGE_KEY "agentview_image" /* obs/<key> of uint8 image observations (robomimic's name of the main camera) */
#define RLDT_DATASET_STD_MIN 1e-3f     /* floor of the observation std (constant dims normalise to 0) */
#define RLDT_DATASET_NAME_MAX 64
/* Bounds of what the reader accepts (checked before anything is allocated or trained on):
 *   observations and rewards: finite, |x| <= RLDT_DATASET_VALUE_MAX, so sums, squares and standardised
 *     values stay finite in float32;
 *   actions: finite and within [act_low, act_high] of env_args, give or take RLDT_DATASET_ACTION_SLACK of the
 *     range (the policy learns them normalised to [-1, 1]; an action of 1e30 cannot be);
 *   act_low < act_high, both finite; image_shape h, w <= RLDT_DATASET_IMAGE_MAX, c <= 4;
 *   at most RLDT_DATASET_SAMPLES_MAX samples in a file, and no more than the machine's available memory. */
#define RLDT_DATASET_VALUE_MAX 1e30f
#define RLDT_DATASET_ACTION_SLACK 0.01f
#define RLDT_DATASET_IMAGE_MAX 4096
#define RLDT_DATASET_SAMPLES_MAX ((int64_t)1 << 40)
#define RLDT_DATASET_KEYS_MAX 16      /* observation keys (low-dim or image) one load may name */
#define RLDT_DATASET_OBS_DIM_MAX (1 << 20)

/* An image observation key as loaded: obs/<name> uint8 [T, h, w, c]. */
typedef struct {
    char name[RLDT_DATASET_NAME_MAX];
    int h, w, c;
} rldt_dataset_image_key_t;

/* The spec as recorded in a file's env_args (rldt's own files), or as found in the data (other files),
 * with the observation keys a load resolved. */
typedef struct {
    char env_name[RLDT_DATASET_NAME_MAX];
    char obs_key[RLDT_DATASET_NAME_MAX]; /* env_args obs_key; "" when the file has no rldt spec */
    int obs_dim, act_dim, state_dim, max_steps; /* state_dim 0: the file has no states */
    int image_h, image_w, image_c; /* all 0: no image observation */
    float act_low[RLDT_ENV_MAX_ACT], act_high[RLDT_ENV_MAX_ACT];
    rldt_reward_kind_t reward_kind;
    int env_type;            /* env_args type (robomimic: 1 robosuite, 2 gym, 3 ig_momart) */
    bool rldt_spec;          /* env_kwargs carries rldt's spec (obs_dim, obs_key, ...) */
    bool actions_normalized; /* actions on disk are in [-1, 1] of [act_low, act_high] (see above) */
    bool has_next_obs;       /* next_obs/<key> for every loaded key */
    int n_obs_keys;          /* the low-dim keys concatenated into obs, in order, and their widths */
    char obs_keys[RLDT_DATASET_KEYS_MAX][RLDT_DATASET_NAME_MAX];
    int obs_key_dims[RLDT_DATASET_KEYS_MAX];
    int n_image_keys;
    rldt_dataset_image_key_t image_keys[RLDT_DATASET_KEYS_MAX];
} rldt_dataset_meta_t;

/* What a load selects. obs_keys: comma-separated low-dim keys of obs/ (spaces around names ignored),
 * concatenated in that order; NULL or "" = the file's own key (env_args obs_key; a file without an rldt spec
 * must name them). image_keys: comma-separated uint8 image keys of obs/ to load; NULL or "" = the spec's
 * image (obs/agentview_image) for rldt's files with images, else none. mask: NULL = every demo, else /mask/<mask>. */
typedef struct {
    const char *obs_keys;
    const char *image_keys;
    const char *mask;
} rldt_dataset_opts_t;

/* The env_args JSON of `spec` with step limit max_steps (0 = the spec's). Caller frees with free(). */
char *rldt_dataset_env_args(const rldt_env_spec_t *spec, int max_steps);
/* Parses an env_args JSON string into meta. Missing or ill-typed fields: RLDT_ERR_USAGE naming the field
 * and `origin` (e.g. "data/p.h5: /data.env_args"). env_args without rldt's spec (no env_kwargs.obs_dim
 * or obs_key, as robomimic's robosuite files) need only env_name, an integer type and an env_kwargs
 * object; meta->rldt_spec is then false and the caller fills the rest from the data. */
rldt_status_t rldt_dataset_parse_env_args(const char *json, rldt_dataset_meta_t *meta, const char *origin);

/* ------------------------------------------------------------------------------------------------ */
/* Writing (host/io/dataset_write.c). */

typedef struct rldt_dataset_writer rldt_dataset_writer_t;

/* One demonstration of T steps, as caller-owned arrays. */
typedef struct {
    int T;
    const float *obs, *next_obs;       /* [T][obs_dim] */
    const uint8_t *image, *next_image; /* [T][h][w][c] when the spec has an image, else ignored */
    const float *actions;              /* [T][act_dim] */
    const float *rewards;              /* [T] */
    const uint8_t *dones;              /* [T] */
    const double *states;              /* [T][state_dim] */
    bool success;
} rldt_demo_t;

/* Starts "<path>.tmp" for demos of `spec` (max_steps 0 = the spec's) and writes env_args, plus
 * collect_args when not NULL. RLDT_ERR naming the path when the file cannot be created. */
rldt_status_t rldt_dataset_writer_open(rldt_dataset_writer_t **out, const char *path, const rldt_env_spec_t *spec,
                                       int max_steps, const char *collect_args);
/* Appends demo_<i> (i = demos written so far). T must be >= 1. */
rldt_status_t rldt_dataset_writer_add(rldt_dataset_writer_t *w, const rldt_demo_t *demo);
/* Samples written so far. */
size_t rldt_dataset_writer_samples(const rldt_dataset_writer_t *w);
/* Writes `total` and the train/valid masks (rldt_dataset_valid_count(n) demos of a permutation drawn from
 * split_seed go to valid, the rest to train), closes and renames the file into place. Frees w whatever happens; on
 * failure the temporary file is removed. */
rldt_status_t rldt_dataset_writer_close(rldt_dataset_writer_t *w, uint64_t split_seed);
/* Demos of n that a written file's /mask/valid names and /mask/train does not: floor(n / 10), at least 1
 * when n >= 2 (robomimic's tools fail on an empty mask); 0 when n < 2 (a file of one demo names it in
 * both masks). */
int rldt_dataset_valid_count(int n);
/* Abandons the file: closes it, removes the temporary file and frees w. NULL is a no-op. */
void rldt_dataset_writer_abort(rldt_dataset_writer_t *w);

/* ------------------------------------------------------------------------------------------------ */
/* Recording vector-env episodes as demos (host/io/dataset_record.c): per-step capture buffers for a
 * rldt_vecenv_step, one episode buffer per env, and a finished episode goes to a writer. Usage:
 *   rldt_recorder_t *rec = rldt_recorder_create(spec, n, chunk, max_steps);
 *   out.record = rldt_recorder_capture(rec);
 *   rldt_vecenv_step(v, actions, chunk, &out);
 *   for each env i whose steps should be kept: rldt_recorder_push(rec, i, out.steps[i], writer); */

typedef struct rldt_recorder rldt_recorder_t;

/* Buffers for n envs, chunks of `chunk` steps and episodes of at most max_steps (0 = the spec's). */
rldt_recorder_t *rldt_recorder_create(const rldt_env_spec_t *spec, int n, int chunk, int max_steps);
/* Frees everything. NULL is a no-op. */
void rldt_recorder_free(rldt_recorder_t *r);
/* The capture to hand to rldt_vecenv_step as rldt_vec_out_t.record (every field allocated). */
rldt_vec_record_t *rldt_recorder_capture(rldt_recorder_t *r);
/* Appends the first `steps` captured steps of env i to its episode. If the last of them ended the episode,
 * writes the episode to `w` as the next demo (success = that step's flag) and starts an empty one. */
rldt_status_t rldt_recorder_push(rldt_recorder_t *r, int i, int steps, rldt_dataset_writer_t *w);

/* ------------------------------------------------------------------------------------------------ */
/* Reading (host/io/dataset_read.c). */

/* Demos loaded into contiguous arrays, in ascending demo index order. Demo e holds samples
 * [ep_start[e], ep_start[e + 1]); ep_index[s] is the demo of sample s, so the steps left in the episode
 * after sample s are ep_start[ep_index[s] + 1] - s (what action chunking needs). */
typedef struct {
    rldt_dataset_meta_t meta;
    int n_demos;
    size_t n_samples;
    int *demo_ids;      /* [n_demos] the i of demo_<i> */
    size_t *ep_start;   /* [n_demos + 1] */
    int *ep_index;      /* [n_samples] */
    float *obs;         /* [n_samples][obs_dim], the keys of meta.obs_keys side by side */
    float *next_obs;    /* [n_samples][obs_dim], NULL when !meta.has_next_obs */
    uint8_t *images[RLDT_DATASET_KEYS_MAX];      /* [n_samples][h][w][c] of meta.image_keys[k] */
    uint8_t *next_images[RLDT_DATASET_KEYS_MAX]; /* the same from next_obs/, NULL when !meta.has_next_obs */
    float *actions;     /* [n_samples][act_dim], in the task's units */
    float *rewards;     /* [n_samples] */
    uint8_t *dones;     /* [n_samples] */
    double *states;     /* [n_samples][state_dim], NULL when state_dim is 0 */
    float *ep_return;   /* [n_demos] undiscounted sum of rewards */
    uint8_t *ep_success;/* [n_demos] */
    float *obs_mean;    /* [obs_dim] over the loaded samples */
    float *obs_std;     /* [obs_dim] population std, floored at RLDT_DATASET_STD_MIN */
    float *act_min;     /* [act_dim] over the loaded samples */
    float *act_max;
    int file_demos;     /* demos in the file (all of them, whatever the mask) */
    int n_train, n_valid; /* entries of /mask/train and /mask/valid (0 when absent) */
    char *collect_args; /* the /data collect_args attribute, or NULL */
} rldt_dataset_t;

/* Loads and validates `path` with the keys and mask of o (NULL: the defaults). Validation: path is a
 * regular file; env_args parses; every demo has num_samples >= 1 and datasets whose shapes match it, the
 * spec and the keys' widths in the lowest demo (obs keys float [T, d], image keys uint8 [T, h, w, c]);
 * `total` is the sum; mask entries name existing demos, once each; the arrays fit in the available memory
 * (all of this before they are allocated); then every value is within the bounds above. Any failure, a
 * missing, truncated or non-HDF5 file or a named key that is not there included: RLDT_ERR_USAGE with a
 * message naming the file and the object. On failure d is left empty (safe to free). */
rldt_status_t rldt_dataset_load_opts(rldt_dataset_t *d, const char *path, const rldt_dataset_opts_t *o);
/* rldt_dataset_load_opts with the default keys and `mask`. */
rldt_status_t rldt_dataset_load(rldt_dataset_t *d, const char *path, const char *mask);
/* Whether `path` has a /mask/<name> (false for a file without masks; an unreadable file is an error). */
rldt_status_t rldt_dataset_has_mask(const char *path, const char *name, bool *has);
/* The spec (keys of o resolved on the lowest demo) and /data total of `path` without loading any demo (for
 * estimates before a run); checked only that far. RLDT_ERR_USAGE as rldt_dataset_load. */
rldt_status_t rldt_dataset_peek(const char *path, const rldt_dataset_opts_t *o, rldt_dataset_meta_t *meta, size_t *samples);
/* Bytes rldt_dataset_load holds per sample of a file with this spec. */
double rldt_dataset_sample_bytes(const rldt_dataset_meta_t *m);
/* Frees the arrays and zeroes d. */
void rldt_dataset_free(rldt_dataset_t *d);

/* ------------------------------------------------------------------------------------------------ */
/* Collecting scripted-expert demos (host/io/dataset_collect.c). */

typedef struct {
    const rldt_env_spec_t *spec;
    int demos;        /* episodes to record */
    double noise;     /* std of the Gaussian added to the expert's actions */
    uint64_t seed;    /* env episodes, expert noise and the mask split all derive from it */
    int threads;      /* vector env threads (0 = one per core) */
    const char *path; /* output file */
    int max_steps;    /* episode step limit (0: the task's) */
    int envs;         /* envs stepped side by side (0: RLDT_COLLECT_ENVS) */
} rldt_collect_opts_t;

#define RLDT_COLLECT_ENVS 16 /* envs the collector steps side by side */

/* Runs opts->envs (default RLDT_COLLECT_ENVS) envs under the expert and writes the first `demos` finished episodes (in order of
 * completion: by step, then env index; so a smaller run is a prefix of a larger one with the same seed),
 * logging progress about once a second. */
rldt_status_t rldt_dataset_collect(const rldt_collect_opts_t *opts);

#ifdef __cplusplus
}
#endif
#endif
