/* finetune_internal.h — the state of one fine-tuning run, shared by host/rl/finetune*.c. */
#ifndef RLDT_FINETUNE_INTERNAL_H
#define RLDT_FINETUNE_INTERNAL_H

#include <stdio.h>

#include "rldt/checkpoint.h"
#include "rldt/critic.h"
#include "rldt/metrics.h"
#include "rldt/path.h"
#include "rldt/pixels.h"
#include "rldt/finetune.h"
#include "rldt/replay.h"
#include "rldt/transport.h"

/* Per-iteration statistics for the log and metrics files. */
typedef struct {
    double critic_loss, transport, consist, reg, phi_norm, bandwidth, alpha, q_mean;
    int critic_n, actor_n;
    long skipped;
} ft_stats_t;

typedef struct {
    const rldt_config_t *cfg;
    const rldt_env_spec_t *spec;
    const rldt_backend_t *be;
    int od, D, K, P, n_envs, T, max_batch;
    int round_segs_max; /* segments per round at most */
    bool sparse;

    rldt_policy_t pol;
    rldt_pixels_t px;       /* a pixel policy's image encoder (px.enc.ws NULL: a low-dim policy) */
    int pin;                /* the policy's input width: od, and px.F feature columns after them for a pixel policy */
    size_t img_bytes;       /* of one image (0: a low-dim policy, no images kept) */
    rldt_trainable_t actor; /* the policy's parameters (a pixel policy's encoder after them), gradients, moments */
    float *vref;            /* v_ref parameters */
    float *pretrained;      /* the starting weights (for finetune.anchor) */
    rldt_critic_t critic;
    rldt_replay_t buf;
    rldt_vecenv_t *venv;
    rldt_reward_scaler_t scaler;

    long itr, actor_updates, env_steps, skipped;
    long demo_segments;   /* demo segments pushed before the first rollout (finetune.demo_segments; finetune_demos.c) */
    long run_of_skips[3]; /* consecutive skips of each kind (FT_CRITIC, FT_ACTOR, FT_ROLLOUT) */
    bool delta_kernel;    /* svgd.kernel == delta */
    int algo;             /* finetune.algo: FT_RLDT, FT_BPTT or FT_PPO */

    /* rollout (n_envs rows) */
    float *r_obs, *r_chain, *r_xk, *r_t, *r_at, *r_noise, *r_exec; /* device */
    int *r_k;                                                      /* device */
    float *h_obs, *h_exec, *h_act;                                 /* host: the env I/O */
    rldt_vec_out_t out; /* what each chunked env step returns */
    uint8_t *seen_success; /* per env: its episode has succeeded (rldt_transition) */
    float *prev_raw;       /* per env: the raw reward of its episode's previous step (rldt_transition) */
    float *ep_ret; /* running episode return per env (for logging) */

    /* The replay buffer's payload where the backend computes: the update reads it there (gathers, TD(λ)), so
     * a round moves no transitions between host and device. On the CPU backend these are f->buf's own
     * arrays; on the others, copies that ft_mirror refreshes after each rollout and on resume. */
    float *d_obs, *d_next, *d_act, *d_rew;
    uint8_t *d_term, *d_ended;
    bool mirrored; /* the d_* arrays are copies (not f->buf's) */

    /* updates (max_batch rows) */
    float *u_obs, *u_act, *u_tgt, *u_x, *u_chain, *u_g, *u_xk, *u_t, *u_at, *u_phi, *u_h, *u_alpha, *u_dv, *u_ref, *u_tmp;
    int *u_k, *u_idx;
    /* pixel policies only (NULL otherwise): see finetune_pixels.c */
    float *u_low;      /* device [max_batch][od]: a batch's standardised low-dim rows (the critic's obs) */
    float *u_oref;     /* device [max_batch][pin]: v_ref's input rows (features of v_ref's own encoder) */
    float *u_dfeat;    /* device [max_batch][px.F]: the actor loss's gradient at the features */
    uint8_t *u_img;    /* device [max_batch][img_bytes]: a batch's images */
    uint8_t *r_img;    /* device [n_envs][img_bytes]: the rollout's current images */
    uint8_t *h_img;    /* host [max_batch][img_bytes]: a batch's images before the upload */
    int *h_idx;        /* host [max_batch]: a batch's buffer rows */
    float *h_row;      /* host [pin]: one standardised observation */
    float *d_G;     /* device [capacity][T]: TD(λ) targets by buffer row */
    float *u_qnext; /* device [round steps]: a round's bootstrap values, in round order */
    int *d_rows;    /* device [capacity * T]: buffer rows (critic members' rows, actor states) */
    int *d_segrows; /* device [capacity]: the first buffer row of each of a round's segments */
    int *d_round;   /* device [round steps]: a round's buffer rows, in round order */
    float *u_boot;  /* device [M][round steps][D]: a round's bootstrap actions */
    int *round_segs;
    float *u_sgrad; /* device [actor params]: a scratch gradient for the per-step norms */
    double *sg_norm; /* host [q_repeat * actor_steps][K]: this iteration's per-step gradient norms ... */
    long *sg_update; /* ... of these actor updates (finetune.step_grad_freq; step_grads.csv) */
    int sg_n;        /* how many of them */
    int *rows;      /* host: the rows d_rows receives */
    int *slots;     /* host: the buffer slots of a rollout's segments */
    uint8_t *bad;   /* host: per env, the segment being recorded saw a non-finite value */
    float *rewards; /* host: a rollout's rewards, for the reward scale */

    /* the PPO baseline (finetune.algo=ppo, finetune_ppo.c) */
    rldt_mlp_t v_net;        /* the value network V(s) */
    rldt_trainable_t value;  /* its parameters, gradients, moments */
    float *ppo_chain;        /* host [T][K+1][n_envs][D]: the rollout's noisy chains */
    float *ppo_logp;         /* host [T][K][n_envs]: log π of each noisy step when it was drawn */
    float *ppo_adv;          /* host [4][T * n_envs]: advantages, value targets, V(s), V(s') (row t * n_envs + env) */
    float *ppo_seg;          /* host [5][T]: one env's segment while computing advantages */
    uint8_t *ppo_flags;      /* host [2][T]: its terminal and ended flags */
    float *ppo_stage;        /* host: a minibatch's inputs and outputs */
    int *ppo_order;          /* host [T * n_envs * K]: a shuffled order of the rollout's rows or samples */
} ft_t;

enum { FT_RLDT = 0, FT_BPTT = 1, FT_PPO = 2 }; /* finetune.algo, in the order of its choices */

/* finetune_rollout.c: n_steps chunk-steps of every env with exploration into the buffer; returns the
 * number of fresh segments pushed, or -1 when the envs failed (a Gymnasium worker; the error says why). */
int ft_rollout(ft_t *f, ft_stats_t *st);
/* finetune_rollout.c: whether the n values of x are all finite (a segment with any other is dropped). */
bool ft_all_finite(const float *x, size_t n);
/* finetune_demos.c: a new run's buffer seeded with up to finetune.demo_segments segments of data.path's train
 * demos, chunked as ft_rollout stores a rollout (see there); sets f->demo_segments. */
rldt_status_t ft_demos(ft_t *f);
/* finetune.c: copies the payload of `n` buffer slots from slot `first` on (wrapping around the end) to the
 * backend's copy (a no-op on the CPU backend, whose d_* arrays are the buffer's). */
void ft_mirror(ft_t *f, int first, int n);
/* finetune_update.c: one critic/actor round on a fresh batch of segments. */
void ft_round(ft_t *f, int fresh, int round, ft_stats_t *st);
/* finetune_update.c: the parts of an actor update that every finetune.algo shares. ft_actor_begin starts
 * update f->actor_updates (and advances the counter): its states (RLDT.md §4) in f->u_obs, each once per
 * particle, P particle chains per state from noise (x_0..x_K, [K+1][N][D], in f->u_chain) and the actor's
 * gradient zeroed. It returns the particle count N (0: no states here, nothing else to do: with data
 * parallelism, when other ranks have states, this rank's zero gradient has joined their step already) and
 * sets *norms to where the update's K per-step gradient norms go when finetune.step_grad_freq logs it, else
 * to NULL. */
int ft_actor_begin(ft_t *f, int nseg, ft_stats_t *st, rldt_rng_t *rng, double **norms);
/* Adds the gradient of the regulariser toward v_ref at the particles' actions a [N][D] (RLDT.md §4) and
 * returns L_reg. Uses the policy's workspace and f->u_t, u_x, u_at, u_ref, u_tmp, u_dv. */
double ft_actor_regulariser(ft_t *f, const float *a, int N, rldt_rng_t *rng);
/* One Adam step (lr warm-up over actor.warmup updates) on the ranks' mean of the actor's gradient, or a
 * counted skip when `finite` is false on any rank or the gradient is not finite; returns whether the update
 * went through (the same on every rank). */
bool ft_actor_apply(ft_t *f, ft_stats_t *st, bool finite);
/* finetune_bptt.c: one actor update of the BPTT baseline (finetune.algo=bptt). */
void ft_bptt_step(ft_t *f, int nseg, ft_stats_t *st);
/* finetune_ppo.c: the PPO baseline. ft_ppo_init builds the value network and the rollout's stores (after
 * the shared buffers); ft_ppo_free frees what it built (safe on a partial init). ft_ppo_act replaces RLDT's
 * exploration at chunk-step t of a rollout: noisy chains for f->h_obs, executed chunks to f->h_exec and
 * f->h_act. ft_ppo_update learns from the rollout just done (its segments are f->slots). */
rldt_status_t ft_ppo_init(ft_t *f);
void ft_ppo_free(ft_t *f);
void ft_ppo_act(ft_t *f, rldt_rng_t *rng, int t);
void ft_ppo_update(ft_t *f, ft_stats_t *st);
enum { FT_CRITIC = 0, FT_ACTOR = 1, FT_ROLLOUT = 2 }; /* FT_ROLLOUT: every segment of a rollout dropped */
/* Records a skipped update of `kind`; returns false once finetune.max_skips consecutive skips of that
 * kind have happened. */
bool ft_skip(ft_t *f, ft_stats_t *st, int kind);
/* Marks an update of `kind` that went through (resets that kind's run of skips). */
void ft_ok(ft_t *f, int kind);
/* Whether either kind has reached finetune.max_skips in a row. */
bool ft_stopped(const ft_t *f);

/* finetune_pixels.c: a batch's observations: n policy input rows into dst ([n][pin]) from the buffer rows
 * idx (device, n / repeat of them, each `repeat` times) of src (f->d_obs or f->d_next). Low-dim policies: a
 * row gather. Pixel policies: the low-dim rows also to f->u_low and the rows' images (next images when
 * `next`) to f->u_img; the feature columns are left to ft_encode_actor / rldt_critic_encode. */
void ft_gather_obs(ft_t *f, float *dst, const float *src, const int *idx, int n, int repeat, bool next);
/* The critic's obs rows for the batch ft_gather_obs just put in dst: dst itself for a low-dim policy, else
 * f->u_low. */
const float *ft_critic_obs(const ft_t *f, const float *dst);
/* Pixel policies: the feature columns of n input rows obs by the encoder of `params` (the actor's or
 * v_ref's) from f->u_img, shifted with draws from aug (NULL: none). Low-dim: nothing. */
void ft_encode_actor(ft_t *f, const float *params, float *obs, int n, rldt_rng_t *aug);
/* Pixel policies: adds the gradient at the features of the last rldt_policy_backward to f->u_dfeat (n rows)
 * (ft_encoder_backward sends the sum through the actor's encoder). Low-dim: nothing. */
void ft_feature_grad(ft_t *f, int n);
void ft_encoder_backward(ft_t *f);

/* finetune.c: updates one rollout makes at most under config c: actor updates (actor), else critic steps
 * (PPO: value steps). */
int64_t ft_updates_per_rollout(const ft_t *f, const rldt_config_t *c, bool actor);
/* finetune_setup.c: builds the run from cfg->ft_init (or resumes cfg->ft_resume: ft_restore) for task spec
 * on be; the policy's shape keys of cfg are set to the checkpoint's. ft_free frees what it built (safe on
 * a partial set-up). */
rldt_status_t ft_setup(ft_t *f, rldt_config_t *cfg, const rldt_env_spec_t *spec, const rldt_backend_t *be);
void ft_free(ft_t *f);
/* finetune_ckpt.c: writes the run's state to `path`: a collective (every rank calls it; rank 0 gathers the
 * ranks' envs and buffers and writes). Every rank returns the same status. */
rldt_status_t ft_save(ft_t *f, const char *path);
/* finetune_ckpt.c: restores the whole training state from a finetune checkpoint into an initialised run
 * (the shared state on every rank, and each rank's share of the envs and the buffer); `was` is the
 * checkpoint's own config. */
rldt_status_t ft_restore(ft_t *f, rldt_ckpt_t *c, const rldt_config_t *was);

/* finetune_metrics.c: a run's metrics (rldt/metrics.h: one row per iteration) and, with
 * finetune.step_grad_freq, step_grads.csv: K rows per logged actor update. Rank 0 writes them (the other
 * ranks' files stay closed). */
typedef struct {
    rldt_metrics_t rows;
    FILE *step_grads;
    char sg_path[RLDT_PATH_MAX + 1];
} ft_metrics_t;
/* Opens the metrics files for a run starting at iteration `itr`; step_grads.csv when `step_grads`. */
rldt_status_t ft_metrics_open(ft_metrics_t *m, const char *dir, long itr, bool step_grads);
rldt_status_t ft_metrics_close(ft_metrics_t *m);
/* One row: ev is NULL on training iterations; env_sps and update_s are NaN on evaluation iterations. */
rldt_status_t ft_metrics_write(ft_metrics_t *m, const ft_t *f, const ft_stats_t *s, const rldt_eval_result_t *ev, double env_sps,
                               double update_s);
/* The iteration's logged per-step gradient norms into step_grads.csv (when it is open). */
rldt_status_t ft_metrics_step_grads(ft_metrics_t *m, ft_t *f);
/* The iteration's loss sums and counts, summed over the ranks. */
void ft_world_stats(ft_stats_t *s);

#endif
