/* rldt/rollout.h — running a flow policy in a vector env: chunked action sampling and evaluation.
 *
 * rldt_actor_act turns a batch of raw observations into action chunks in env units (standardise,
 * upload, K-step Euler from noise or from zero, download, un-normalise and clip). rldt_evaluate runs
 * fresh episodes with no learning and reports success and return statistics; it can also write every
 * episode to a dataset (robomimic layout), so an evaluated policy becomes a demonstration file. A pixel policy
 * (rldt/pixels.h) acts on the task's image observations too (the vector env's, encoded without a shift). */
#ifndef RLDT_ROLLOUT_H
#define RLDT_ROLLOUT_H

#include <stdbool.h>

#include "rldt/dataset.h"
#include "rldt/env.h"
#include "rldt/pixels.h"
#include "rldt/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device buffers for acting on up to n observations at once. */
typedef struct {
    rldt_policy_t *policy;
    rldt_pixels_t *pixels;    /* the policy's image encoder; NULL: a low-dim policy */
    int n;
    float *obs_host, *x_host; /* [n][obs_dim], [n][D] */
    float *obs_dev, *x_dev;   /* the same on the backend */
    uint8_t *img_dev;         /* [n][h][w][c] the images (pixel policies) */
    rldt_rng_t rng;           /* noise stream for stochastic sampling */
} rldt_actor_t;

/* px: the policy's image encoder (kept by pointer), NULL for a low-dim policy. */
rldt_status_t rldt_actor_init(rldt_actor_t *a, rldt_policy_t *p, rldt_pixels_t *px, int n, uint64_t seed, uint64_t stream);
void rldt_actor_free(rldt_actor_t *a);
/* Action chunks [n][chunk][act_dim] in env units for raw observations [n][od] (od: the low-dim observation's
 * columns) and, for a pixel policy, host images [n][h][w][c] (else NULL). deterministic: the chain starts at
 * x_0 = 0, else at N(0, I) noise from the actor's stream. The normalised final chain value (unclipped x_K)
 * stays in a->x_host. */
void rldt_actor_act(rldt_actor_t *a, const float *params, const float *obs, const uint8_t *images, bool deterministic,
                    float *actions);

typedef struct {
    int episodes;
    int n_envs;           /* parallel envs (capped at episodes) */
    int threads;          /* env threads (0 = one per core) */
    bool deterministic;   /* x_0 = 0 instead of noise */
    uint64_t seed;        /* env episodes and sampling noise */
    int max_steps;        /* 0: the task's */
    rldt_dataset_writer_t *export; /* NULL, or every evaluated episode is appended as a demo */
    const char *frames_dir;        /* NULL, or env 0's first episode is drawn there, frame_<step>.png (tasks with images: their images) */
} rldt_eval_opts_t;

typedef struct {
    int episodes;
    double success_rate, return_mean, return_std, length_mean;
    long env_steps;
    double seconds;
} rldt_eval_result_t;

/* Runs o->episodes fresh episodes of `spec` with policy parameters `params` (backend memory; a pixel policy's
 * encoder px after the policy's, px NULL for a low-dim one). Frames need a task that renders (RLDT_ERR_USAGE
 * otherwise); the directory is created. A pixel policy needs a task whose images have its encoder's shape
 * (RLDT_ERR_USAGE otherwise). */
rldt_status_t rldt_evaluate(rldt_policy_t *p, rldt_pixels_t *px, const float *params, const rldt_env_spec_t *spec, const rldt_eval_opts_t *o,
                            rldt_eval_result_t *res);

/* Anything that acts: a flow policy (rldt_evaluate wraps one), a SAC actor (rldt/sac.h). */
typedef struct {
    int obs_dim, act_dim, chunk;
    int max_batch; /* most observations per call */
    int image_h, image_w, image_c; /* the image observation it needs; all 0: none */
    /* Action chunks [n][chunk][act_dim] in env units for raw observations [n][obs_dim] and, for an agent that
     * needs images, the images [n][image_h][image_w][image_c] (host; else NULL); n <= max_batch, the same n
     * on every call of one evaluation. */
    void (*act)(void *ctx, const float *obs, const uint8_t *images, int n, bool deterministic, float *actions);
    void *ctx;
} rldt_agent_t;

/* rldt_evaluate for any agent. */
rldt_status_t rldt_evaluate_agent(const rldt_agent_t *ag, const rldt_env_spec_t *spec, const rldt_eval_opts_t *o,
                                  rldt_eval_result_t *res);
/* The envs an evaluation with options o steps side by side for an agent taking max_batch observations:
 * o->n_envs, at most one per episode and at most max_batch, at least one. */
int rldt_eval_envs(const rldt_eval_opts_t *o, int max_batch);

/* A flow policy as an agent: an actor for n envs (rldt_actor_init with seed on the policy stream) acting with
 * parameters `params` (backend memory, kept by pointer); px: a pixel policy's encoder, else NULL. */
typedef struct {
    rldt_actor_t actor;
    const float *params;
} rldt_flow_agent_t;
rldt_status_t rldt_flow_agent_init(rldt_flow_agent_t *f, rldt_policy_t *p, rldt_pixels_t *px, const float *params, int n, uint64_t seed,
                                   rldt_agent_t *out);
void rldt_flow_agent_free(rldt_flow_agent_t *f);

/* An agent that adds Gaussian noise of std `noise` (env units, drawn from its own stream of `seed`) to the
 * actions of `inner` (kept by pointer); the env clips the result to the task's bounds. */
typedef struct {
    const rldt_agent_t *inner;
    float noise;
    rldt_rng_t rng;
} rldt_noisy_agent_t;
void rldt_noisy_agent_init(rldt_noisy_agent_t *a, const rldt_agent_t *inner, float noise, uint64_t seed, rldt_agent_t *out);

#ifdef __cplusplus
}
#endif
#endif
