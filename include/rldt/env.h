/* rldt/env.h — environments: the task spec table, one env, and the vector env.
 *
 * Like MuJoCo's model/data split, a task is described by a constant spec (what the world is: shapes,
 * bounds, horizon, reward kind) and each env owns a mutable state (where it is now). A task is one small
 * file in host/envs/ (PufferLib-ocean style) exposing an ops table: reset, step, get_state and a scripted
 * expert. Each spec row is data defined beside its task; host/envs/env_registry.c gathers them in one table.
 * All observation, action and state arrays are owned by the caller.
 *
 * Episodes: rldt_env_step clips the action to the bounds, advances one control step and reports
 * terminated (the task ended: goal reached, one-step bandit done) or truncated (the step limit hit, never
 * together with terminated). An episode's success is the `success` flag of its last step.
 *
 * Seeds: episode e of env i on rank r is reset with rldt_env_episode_seed(seed, r, i, e), a Philox draw on
 * the stream (RLDT_STREAM_ENV, r, i): the same seed gives the same episodes on any thread count, and every
 * env and every episode gets its own start state.
 *
 * Simulator tasks (the MuJoCo locomotion tasks in host/envs/mujoco/) also have a model: loaded once from a
 * file (the spec's `model`, or the task's default) and shared read-only by the envs of a vector env, each
 * env holding its own simulator data. Their state is plain data too (snapshots copy it), followed by
 * handles into the simulator that snapshots leave alone.
 *
 * Image observations: a task whose spec has an image shape (the *_rgb rows of the task table, made from a
 * MuJoCo task and a camera of its model) also observes a uint8 RGB image, rendered from the env's simulator
 * data by the offscreen renderer (rldt/render.h); the vector env renders and hands them out beside the
 * float observations (rldt_vecenv_images, the capture's images and next_images). A Gymnasium env's image
 * is a uint8 H x W x 3 key of its Dict observation named in env.obs_keys; its workers send it.
 *
 * Gymnasium envs (env.name=gym:<id>, host/envs/bridge/) run in Python worker processes that the vector
 * env starts; their spec row is learned from a worker (rldt_env_from_config) and they exist only inside a
 * vector env: rldt_env_init refuses them. robosuite's tasks (env.name=robosuite:<Task>) are Gymnasium envs
 * made by the worker itself, with scripted experts for Lift and Can computed there (rldt_vecenv_expert). */
#ifndef RLDT_ENV_H
#define RLDT_ENV_H

#include <stdbool.h>

#include "rldt/common.h"
#include "rldt/config.h"
#include "rldt/image.h"
#include "rldt/render.h"
#include "rldt/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_ENV_MAX_ACT 32 /* largest act_dim a spec row may declare */

typedef enum { RLDT_REWARD_DENSE = 0, RLDT_REWARD_SPARSE = 1 } rldt_reward_kind_t;

/* A simulator task's loaded model (MuJoCo's mjModel and what the task looked up in it); opaque. */
typedef struct rldt_env_model rldt_env_model_t;

/* What one task step reports (the task's own view; the step limit is applied by rldt_env_step). */
typedef struct {
    float reward;
    bool terminated; /* the episode ended by the task's rules */
    bool truncated;  /* the episode hit its step limit (never set together with terminated) */
    bool success;    /* the task's success notion holds at this step */
} rldt_step_t;

/* The per-task functions. `state` points at ops->state_size zeroed bytes owned by the env; `rng` is the
 * episode's stream (seeded by the reset seed) for tasks that draw during reset. */
typedef struct {
    size_t state_size;
    /* Starts an episode: draws the initial state from `rng` and writes the first observation. */
    void (*reset)(void *state, rldt_rng_t *rng, float *obs);
    /* One control step with an action already clipped to the bounds; writes the next observation. */
    rldt_step_t (*step)(void *state, const float *action, float *obs);
    /* Flattens the full simulator state (spec->state_dim doubles), e.g. for the dataset's `states`. */
    void (*get_state)(const void *state, double *out);
    /* Scripted expert: the noise-free action for the current state; any choice it makes at random
     * (bandit2d's peak) is drawn from `rng`. rldt_env_expert adds the Gaussian noise. NULL: the task has
     * no scripted expert. */
    void (*expert)(const void *state, rldt_rng_t *rng, float *action);
    /* Draws a frame from a flattened state (get_state) and the action taken from it onto a white canvas;
     * NULL for tasks that do not render. */
    void (*render)(const double *state, const float *action, rldt_canvas_t *c);
    /* Starts an episode from a flattened state (get_state's layout) and writes its observation; NULL for
     * tasks that cannot. */
    void (*set_state)(void *state, const double *in, float *obs);
    /* Simulator tasks only (0 and NULL for pure-C tasks). The env allocates state_size + runtime_size bytes:
     * the first state_size are the plain state above, the rest hold handles that attach fills. */
    size_t runtime_size;
    /* Loads and checks the task's model from `path` (NULL: the task's default). */
    rldt_status_t (*model_load)(const char *path, rldt_env_model_t **out);
    void (*model_free)(rldt_env_model_t *model);
    /* Makes the env's simulator data for `model` (kept by reference); detach frees it. */
    rldt_status_t (*attach)(void *state, const rldt_env_model_t *model);
    void (*detach)(void *state);
    /* MuJoCo tasks: the env's mjData posed at its current state (as a restored snapshot left it too), and its
     * mjModel in *model: what the offscreen renderer draws (rldt/render.h). NULL for tasks without a
     * MuJoCo scene. */
    struct mjData_ *(*mj_scene)(void *state, const struct mjModel_ **model);
} rldt_env_ops_t;

/* How the workers of a Gymnasium env start (the env.* keys of a gym:<id> name). */
typedef struct {
    const char *id;       /* given to gymnasium.make; "module:Id" imports module first */
    const char *kwargs;   /* keyword arguments of gymnasium.make, a JSON object ("" = none) */
    const char *python;   /* the interpreter */
    const char *obs_keys; /* Dict observations: the keys flattened in order, comma-separated ("" = Box) */
    int workers;          /* worker processes (0 = one per core), never more than the envs */
} rldt_gym_t;

/* One row of the task table. */
typedef struct {
    const char *name;
    const char *summary;          /* one line for listings */
    int obs_dim;                  /* low-dimensional observation (float32) */
    int act_dim;
    int state_dim;                /* flattened simulator state (float64), see ops->get_state */
    float act_low[RLDT_ENV_MAX_ACT], act_high[RLDT_ENV_MAX_ACT];
    int max_steps;                /* episode step limit (truncation) */
    rldt_reward_kind_t reward_kind;
    int image_h, image_w, image_c; /* uint8 image observation shape; all 0: none (image_c is 3: RGB) */
    const char *camera;           /* image observations: the model's camera they are rendered from ("free": MuJoCo's free camera);
                                   * Gymnasium envs: the observation key they come from */
    double control_hz;            /* control steps per simulated second */
    float success_threshold;      /* the number in the success notion below */
    const char *success;          /* the success notion, in words */
    const char *obs_key;          /* dataset key of the low-dimensional observation (obs/<key>) */
    const rldt_env_ops_t *ops;
    const char *model;            /* simulator tasks: the model file; NULL: the task's default */
    const rldt_gym_t *gym;        /* Gymnasium envs: how to start their workers; NULL for native tasks */
    bool worker_expert;           /* Gymnasium envs: their workers compute a scripted expert (rldt_vecenv_expert) */
    const char *robomimic_env;    /* robosuite envs: the JSON object {env_name, type, env_kwargs, env_version} robomimic
                                   * recreates them from (a dataset's env_args); NULL otherwise */
} rldt_env_spec_t;

/* One environment: a spec, its state and the episode's bookkeeping. An array of these is a vector env. */
typedef struct {
    const rldt_env_spec_t *spec;
    void *state;     /* spec->ops->state_size bytes */
    rldt_rng_t rng;  /* the current episode's stream */
    int max_steps;   /* step limit in force (the spec's unless overridden) */
    int t;           /* steps taken in the current episode */
    rldt_env_model_t *owned; /* simulator tasks: the model this env loaded itself (rldt_env_init), else NULL */
} rldt_env_t;

/* ------------------------------------------------------------------------------------------------ */
/* The task table (host/envs/env_registry.c). */

/* Number of tasks. */
int rldt_env_count(void);
/* Row i (0 <= i < rldt_env_count()), else NULL. */
const rldt_env_spec_t *rldt_env_spec_at(int i);
/* The row named `name`, or NULL (with a message listing the known tasks in rldt_error_message()). */
const rldt_env_spec_t *rldt_env_find(const char *name);
/* The row named `name` with its model file set to `model` (the `env.model` key): NULL or "" give the row
 * itself; otherwise a copy kept for the life of the process (the same pointer for the same pair). NULL
 * for an unknown name (as rldt_env_find) or a model file given to a task without a model. */
const rldt_env_spec_t *rldt_env_find_model(const char *name, const char *model);
/* The row the config's env.* keys name: for native tasks rldt_env_find_model(env.name, env.model) with, for
 * tasks with images, env.render.width, env.render.height and env.render.camera in place of the row's own
 * (a copy kept as for env.model; the keys given to a task without images are RLDT_ERR_USAGE); for
 * env.name=gym:<id> a row learned from one worker started with env.kwargs, env.python and env.obs_keys
 * (observation and action sizes, action bounds, step limit; env.reward gives the reward kind), kept for
 * the life of the process. NULL with the error message set: an unknown task, bad kwargs JSON, an
 * interpreter that cannot start, an env the bridge cannot drive (see host/envs/bridge/bridge.h). */
const rldt_env_spec_t *rldt_env_from_config(const rldt_config_t *cfg);

/* ------------------------------------------------------------------------------------------------ */
/* One environment (host/envs/env.c). */

/* Allocates the state of a `spec` env; max_steps 0 keeps the spec's limit. A simulator task loads its own
 * model (spec->model); if that fails (no MuJoCo, a bad model file) the status says why and env holds
 * nothing to free. Pure-C tasks cannot fail; a Gymnasium env is RLDT_ERR_USAGE (it needs a vector env). */
rldt_status_t rldt_env_init(rldt_env_t *env, const rldt_env_spec_t *spec, int max_steps);
/* The same with a model loaded by rldt_env_model_load, shared: it must outlive the env. */
rldt_status_t rldt_env_open(rldt_env_t *env, const rldt_env_spec_t *spec, int max_steps, const rldt_env_model_t *model);
/* Frees the state and any model the env loaded itself (the struct itself is the caller's). */
void rldt_env_free(rldt_env_t *env);
/* Loads the model of a simulator task from spec->model (or the task's default file); *out = NULL and
 * RLDT_OK for pure-C tasks. A missing or malformed file, or a model whose joints, actuators or bodies are
 * not the task's, is RLDT_ERR_USAGE naming the file and the part; no MuJoCo in this build is RLDT_ERR. */
rldt_status_t rldt_env_model_load(const rldt_env_spec_t *spec, rldt_env_model_t **out);
/* Frees a model of `spec`'s task. NULL is a no-op. */
void rldt_env_model_free(const rldt_env_spec_t *spec, rldt_env_model_t *model);
/* Starts an episode from `seed` and writes the first observation (obs_dim floats). */
void rldt_env_reset(rldt_env_t *env, uint64_t seed, float *obs);
/* Clips `action` to the bounds (NaN goes to the middle of the range), steps once, writes the next
 * observation and applies the step limit. If `executed` is not NULL it receives the clipped action. */
rldt_step_t rldt_env_step(rldt_env_t *env, const float *action, float *obs, float *executed);
/* The episode bookkeeping of rldt_env_reset without the task's reset: the RNG stream of `seed`, step count
 * 0 (for envs reset elsewhere: the Gymnasium workers). */
void rldt_env_begin(rldt_env_t *env, uint64_t seed);
/* The step limit of rldt_env_step applied to a step the task reported: counts it and sets truncated when
 * the task truncated or the limit is reached, never together with terminated. */
void rldt_env_count_step(rldt_env_t *env, rldt_step_t *s);
/* Writes the flattened simulator state (state_dim doubles). */
void rldt_env_get_state(const rldt_env_t *env, double *out);
/* Starts an episode from a flattened state (state_dim doubles, rldt_env_get_state's layout) and writes its
 * observation; RLDT_ERR_USAGE (env unchanged) for tasks that cannot and for non-finite values. */
rldt_status_t rldt_env_set_state(rldt_env_t *env, const double *in, float *obs);
/* Writes the scripted expert's action (act_dim floats, not yet clipped) with Gaussian noise of std
 * `noise`, drawing from `rng` (the caller's stream, independent of the env's). A task without a scripted
 * expert: RLDT_ERR_USAGE saying so, and the middle of the action range. */
rldt_status_t rldt_env_expert(const rldt_env_t *env, rldt_rng_t *rng, float noise, float *action);
/* Renders a frame of task `spec` from a flattened state and the action taken there onto a white canvas;
 * RLDT_ERR_USAGE if the task does not render. */
rldt_status_t rldt_env_render(const rldt_env_spec_t *spec, const double *state, const float *action, rldt_canvas_t *c);
/* True when task `spec` has a scripted expert: its ops' (native tasks) or its workers' (Gymnasium envs). */
bool rldt_env_has_expert(const rldt_env_spec_t *spec);
/* Adds Gaussian noise of std `noise` (0: none) drawn from `rng` to the act_dim values of `action`. */
void rldt_env_add_noise(const rldt_env_spec_t *spec, rldt_rng_t *rng, float noise, float *action);
/* MuJoCo tasks: the env's mjData posed at its current state and its mjModel, for the offscreen renderer;
 * NULL (and *model NULL) for other tasks. */
struct mjData_ *rldt_env_mj_scene(rldt_env_t *env, const struct mjModel_ **model);
/* Draws env's image observation (spec->image_h x image_w x 3) with renderer r (one of env's model, made with
 * the spec's size and camera: rldt_env_renderer_create). */
void rldt_env_draw(rldt_env_t *env, rldt_renderer_t *r, uint8_t *rgb);
/* A renderer for the image observations of spec's task: its size and camera, drawing env's model (the
 * model is kept by reference). RLDT_ERR_USAGE for a task without images or without a MuJoCo scene; else
 * fails as rldt_renderer_create. */
rldt_status_t rldt_env_renderer_create(rldt_env_t *env, rldt_renderer_t **out);
/* Clips act_dim values of `in` to the spec's bounds into `out` (may alias). */
void rldt_env_clip_action(const rldt_env_spec_t *spec, const float *in, float *out);
/* The reset seed of episode `episode` of env `index` on `rank`: a Philox draw keyed by
 * (seed, rldt_rng_stream_id(RLDT_STREAM_ENV, rank, index), episode). */
uint64_t rldt_env_episode_seed(uint64_t seed, uint32_t rank, uint32_t index, uint64_t episode);

/* ------------------------------------------------------------------------------------------------ */
/* The vector env (host/envs/env_vec.c): n envs stepped in lock step by a persistent thread pool, with
 * gymnasium-style auto-reset: when an episode ends, the returned observation is the next episode's first
 * one and the terminal observation goes to final_obs. */

typedef struct rldt_vecenv rldt_vecenv_t;

/* Optional per-step capture for a chunk (the collector's view). Every array is [n][chunk][...] and row
 * (i, k) is valid for k < steps[i]. NULL members are not captured. */
typedef struct {
    float *obs;      /* [n][chunk][obs_dim]   observation before the step */
    float *actions;  /* [n][chunk][act_dim]   the executed (clipped) action */
    float *rewards;  /* [n][chunk]            */
    float *next_obs; /* [n][chunk][obs_dim]   observation after the step (the terminal one at the end) */
    double *states;  /* [n][chunk][state_dim] simulator state before the step */
    uint8_t *dones;  /* [n][chunk]            1 on the last step of an episode */
    uint8_t *successes; /* [n][chunk]         the step's success flag */
    uint8_t *images;      /* [n][chunk][h][w][c] image observation before the step (tasks with images) */
    uint8_t *next_images; /* [n][chunk][h][w][c] image observation after the step (the terminal one at the end) */
} rldt_vec_record_t;

/* What one chunked step returns. Arrays are caller-owned, [n] or [n][obs_dim]. */
typedef struct {
    float *obs;          /* observation after the chunk (the reset one where the episode ended) */
    float *final_obs;    /* terminal observation where terminated or truncated, else untouched */
    float *reward;       /* undiscounted sum of the rewards of the steps run */
    int *steps;          /* steps run: `chunk`, or fewer when the episode ended inside the chunk */
    uint8_t *terminated; /* per env flags of the chunk's last step */
    uint8_t *truncated;
    uint8_t *success;
    rldt_vec_record_t *record; /* NULL: no per-step capture */
    uint8_t *final_images; /* tasks with images: [n][h][w][c] the terminal image where the episode ended, else
                            * untouched (NULL: not kept) */
} rldt_vec_out_t;

/* Creates n envs of task `spec` (max_steps 0 = the spec's), seeded from (seed, rank, env index), and a
 * pool of `threads` workers (0 = one per core, 1 = step inline; never more than n). A simulator task's
 * model is loaded once and shared; each env gets its own simulator data. A Gymnasium env starts
 * spec->gym->workers worker processes instead (`threads` is not used) and checks that they report the
 * spec's sizes and bounds. A task with images gets one renderer per worker thread, made on that thread
 * (rldt_env_renderer_create; use the vector env from one thread, which is worker 0). Resets every env, so
 * rldt_vecenv_obs (and rldt_vecenv_images) is valid at once. Fails if the model cannot be loaded (see
 * rldt_env_model_load), a thread, worker or renderer cannot be started, or a worker fails. */
rldt_status_t rldt_vecenv_create(rldt_vecenv_t **out, const rldt_env_spec_t *spec, int n, int max_steps, uint64_t seed,
                                 uint32_t rank, int threads);
/* Joins the workers and frees everything. NULL is a no-op. */
void rldt_vecenv_destroy(rldt_vecenv_t *v);
/* Number of envs. */
int rldt_vecenv_size(const rldt_vecenv_t *v);
/* Threads used (1 = inline); for a Gymnasium env, its worker processes. */
int rldt_vecenv_threads(const rldt_vecenv_t *v);
/* Env i (read-only: for experts and inspection). */
const rldt_env_t *rldt_vecenv_env(const rldt_vecenv_t *v, int i);
/* The current observations [n][obs_dim] (valid until the next step or reset). */
const float *rldt_vecenv_obs(const rldt_vecenv_t *v);
/* Tasks with image observations (spec->image_h > 0): the current images [n][h][w][c] (valid until the next
 * step or reset), rendered by one renderer per worker thread (a Gymnasium env's: sent by its workers); NULL
 * for tasks without images. */
const uint8_t *rldt_vecenv_images(const rldt_vecenv_t *v);
/* Episodes started by env i so far (the next reset uses this as its episode index). */
uint64_t rldt_vecenv_episodes(const rldt_vecenv_t *v, int i);
/* Ends every episode and starts fresh ones (next episode seeds); copies the observations to obs if not NULL.
 * Native tasks cannot fail; a Gymnasium worker that raises or dies is RLDT_ERR naming the env and, when it
 * raised, ending with the Python exception (the whole traceback goes to the log). */
rldt_status_t rldt_vecenv_reset(rldt_vecenv_t *v, float *obs);
/* Ends env i's episode and starts one from `seed` (the episode counter is unchanged); writes its first
 * observation to obs (obs_dim floats). Fails as rldt_vecenv_reset. */
rldt_status_t rldt_vecenv_reset_env(rldt_vecenv_t *v, int i, uint64_t seed, float *obs);
/* Bytes rldt_vecenv_snapshot writes: the seed and rank, and every env's episode (state, step count, RNG
 * stream, episode counter, current observation), for bit-exact resume from a checkpoint. */
size_t rldt_vecenv_snapshot_size(const rldt_vecenv_t *v);
/* Writes the snapshot (rldt_vecenv_snapshot_size bytes; meant for the same build and platform). */
void rldt_vecenv_snapshot(const rldt_vecenv_t *v, uint8_t *out);
/* Puts v back where a snapshot of a vector env of the same task and size left off (taking its seed and
 * rank, so later episodes continue the same sequence). A snapshot of another task, env count or size:
 * RLDT_ERR_USAGE, v unchanged. Gymnasium envs: always RLDT_ERR_USAGE (their state lives in Python
 * objects that rldt cannot save; their snapshots hold only the bookkeeping). */
rldt_status_t rldt_vecenv_restore(rldt_vecenv_t *v, const uint8_t *in, size_t bytes);
/* Puts v's n envs where envs first .. first+n-1 of `in` left off: `in` holds one or more snapshots of the
 * same task back to back (the ranks' of a data-parallel run, in rank order), their envs counted in order
 * across them. v takes the first snapshot's seed and keeps its own rank (an env taken from another rank
 * or index finishes its episode, and its later episodes are seeded as v's env). Snapshots of another task,
 * or too few envs: RLDT_ERR_USAGE, v possibly changed. */
rldt_status_t rldt_vecenv_restore_part(rldt_vecenv_t *v, const uint8_t *in, size_t bytes, int first);
/* Writes every env's scripted-expert action for its current observation into actions [n][act_dim] (not yet
 * clipped), each with Gaussian noise of std `noise` drawn from rngs[i] (rldt_env_expert; a Gymnasium env's
 * workers compute the noise-free action). A task without a scripted expert: RLDT_ERR_USAGE; a worker that
 * fails: as rldt_vecenv_reset. */
rldt_status_t rldt_vecenv_expert(rldt_vecenv_t *v, rldt_rng_t *rngs, float noise, float *actions);
/* Allocates every array of `out` for v's n envs (record NULL: set it to capture steps). */
void rldt_vecenv_out_alloc(const rldt_vecenv_t *v, rldt_vec_out_t *out);
/* Frees the arrays rldt_vecenv_out_alloc made (not the record) and zeroes out. */
void rldt_vecenv_out_free(rldt_vec_out_t *out);
/* Executes up to `chunk` actions per env (actions [n][chunk][act_dim]), stopping an env's chunk when its
 * episode ends; fills `out` (see rldt_vec_out_t) and auto-resets the envs whose episode ended. Native
 * tasks cannot fail; Gymnasium envs fail as rldt_vecenv_reset (out is then partly written). */
rldt_status_t rldt_vecenv_step(rldt_vecenv_t *v, const float *actions, int chunk, rldt_vec_out_t *out);

#ifdef __cplusplus
}
#endif
#endif
