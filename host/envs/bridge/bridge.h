/* bridge.h — the Gymnasium env bridge (private to host/envs/): Python worker processes that step
 * Gymnasium envs for the vector env, exchanging actions, observations, rewards and flags through shared
 * memory.
 *
 * The host starts `workers` processes of host/envs/bridge/gym_worker.py (env.python), each owning a
 * contiguous range of the n envs, and shares one memory file with them (memfd: nothing is left behind when
 * a process dies). Its layout is written by the host (bridge.c), which the worker mirrors: a header, one
 * block per worker (two process-shared semaphores, the command, the spec the worker found, an error text,
 * an info text: JSON, see rldt_bridge_spec_t) and, once the spec is known, the per-env arrays of
 * rldt_bridge_io_t. A command is one handshake per worker: the host posts the worker's `go` semaphore, the
 * worker does it and posts `done`. The host waits in short slices and checks between them that the worker
 * is still alive, so a worker that raises (it
 * reports the traceback and its env index, then exits), dies, or stops answering (60 s for a command, 300 s
 * to start) ends the call with an error instead of a hang. The workers die with the host thread that
 * started them (PR_SET_PDEATHSIG), so open the bridge from a thread that outlives it (rldt: the main one).
 *
 * The spec a worker reports (observation size, image shape, action size and bounds, step limit) is checked
 * before it sizes anything: sizes within limits, finite bounds with low < high, the same from every worker.
 *
 * Image observations: a Dict observation's uint8 H x W x 3 key named in env.obs_keys (one at most) is not
 * flattened into the floats but written as bytes (as the env gives them: rldt's images have rows top to
 * bottom) into its own per-env region of the same shared memory (image, final_image). */
#ifndef RLDT_ENVS_BRIDGE_H
#define RLDT_ENVS_BRIDGE_H

#include <stdint.h>

#include "rldt/env.h"

typedef struct rldt_bridge rldt_bridge_t;

/* env.name=robosuite:<Task>: the worker makes robosuite's task (host/envs/bridge/robosuite_env.py) */
#define RLDT_BRIDGE_ROBOSUITE "robosuite:"
#define RLDT_BRIDGE_INFO_BYTES 8192

/* What the workers' envs are: filled by rldt_bridge_open. */
typedef struct {
    int obs_dim, act_dim;
    int image_h, image_w, image_c; /* the image observation's shape; all 0: none */
    int max_steps; /* the env's step limit (its spec's max_episode_steps), 0: none */
    float act_low[RLDT_ENV_MAX_ACT], act_high[RLDT_ENV_MAX_ACT];
    /* a JSON object: "expert" (true: RLDT_BRIDGE_EXPERT works), and what the env's rldt_info() adds (robosuite:
     * "sparse", the reward kind; "robomimic", the env_args robomimic recreates the env from) */
    char info[RLDT_BRIDGE_INFO_BYTES];
} rldt_bridge_spec_t;

/* The per-env arrays in shared memory. The host sets op[i] (and the inputs it needs) for the envs that
 * take part in the next rldt_bridge_exchange; the workers answer in the outputs and clear op. */
enum { RLDT_BRIDGE_IDLE = 0, RLDT_BRIDGE_STEP = 1, RLDT_BRIDGE_RESET = 2, RLDT_BRIDGE_EXPERT = 3 };
typedef struct {
    uint8_t *op;         /* [n] in: RLDT_BRIDGE_* */
    uint8_t *limit;      /* [n] in (STEP): the step limit is reached; the episode ends (truncated) */
    uint64_t *seed;      /* [n] in: RESET's seed; STEP's seed for the next episode if this one ends */
    float *action;       /* [n][act_dim] in (STEP), already clipped to the bounds; out (EXPERT): the scripted
                          * expert's action for the current observation */
    float *reward;       /* [n] out (STEP) */
    uint8_t *terminated; /* [n] out (STEP): the env's own flags */
    uint8_t *truncated;  /* [n] out (STEP) */
    uint8_t *success;    /* [n] out (STEP): info["is_success"] or info["success"], else 0 */
    float *obs;          /* [n][obs_dim] out: the current observation (after an end, the new episode's) */
    float *final_obs;    /* [n][obs_dim] out (STEP, where the episode ended: either flag or the limit, after
                          * which the worker reset it): the episode's last observation */
    uint8_t *image;       /* [n][h][w][c] out: the current image observation, as obs (NULL: no images) */
    uint8_t *final_image; /* [n][h][w][c] out: the episode's last image observation, as final_obs */
} rldt_bridge_io_t;

/* Starts the workers of n envs of gym (gym->workers, 0 = one per core, at most n) with the step limit
 * max_steps (0: the env's own), learns and checks their spec. Errors name the env (`name`): RLDT_ERR_USAGE
 * for bad kwargs JSON, an interpreter that cannot start, an env the bridge cannot drive (a non-Box action
 * space, unbounded actions, Dict observations without env.obs_keys, image keys other than one uint8 H x W x 3 key
 * beside float keys, an unknown id: the worker's exception); RLDT_ERR for a worker that died or timed out. */
rldt_status_t rldt_bridge_open(rldt_bridge_t **out, const char *name, const rldt_gym_t *gym, int n, int max_steps,
                               rldt_bridge_spec_t *spec);
/* Stops the workers (asks, then kills after a grace period) and frees everything. NULL is a no-op. */
void rldt_bridge_close(rldt_bridge_t *b);
/* Worker processes. */
int rldt_bridge_workers(const rldt_bridge_t *b);
/* The shared arrays. */
rldt_bridge_io_t *rldt_bridge_io(rldt_bridge_t *b);
/* Runs op[i] of every env where it is set, in the workers that own them, and returns when all are done.
 * After an error the bridge is unusable (its workers are stopped): close it. */
rldt_status_t rldt_bridge_exchange(rldt_bridge_t *b);

#endif
