/* finetune_internal.h — the state of one fine-tuning run, shared by host/finetune*.c. */
#ifndef RLDT_FINETUNE_INTERNAL_H
#define RLDT_FINETUNE_INTERNAL_H

#include "rldt/critic.h"
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
    bool sparse;

    rldt_policy_t pol;
    rldt_trainable_t actor; /* the policy's parameters, gradients, moments */
    float *vref;            /* v_ref parameters */
    float *pretrained;      /* the starting weights (for finetune.anchor) */
    rldt_critic_t critic;
    rldt_replay_t buf;
    rldt_vecenv_t *venv;
    rldt_reward_scaler_t scaler;

    long itr, actor_updates, env_steps, skipped, consecutive_skips;

    /* rollout (n_envs rows) */
    float *r_obs, *r_chain, *r_xk, *r_t, *r_at; /* device */
    int *r_k;                                   /* device */
    float *h_obs, *h_x, *h_at, *h_exec, *h_act; /* host */
    int *h_k;
    float *h_t;
    rldt_vec_out_t out; /* what each chunked env step returns */
    uint8_t *seen_success;
    float *ep_ret; /* running episode return per env (for logging) */

    /* updates (max_batch rows) */
    float *u_obs, *u_act, *u_tgt, *u_x, *u_chain, *u_g, *u_xk, *u_t, *u_at, *u_phi, *u_h, *u_alpha, *u_dv, *u_ref, *u_tmp;
    int *u_k;
    float *s_obs, *s_act, *s_tgt, *s_t; /* host staging */
    int *s_k;
    float *G, *qnext;  /* host, per transition of a round */
    int *round_segs;
} ft_t;

/* finetune_rollout.c: n_steps chunk-steps of every env with exploration into the buffer; returns the
 * number of fresh segments pushed. */
int ft_rollout(ft_t *f, ft_stats_t *st);
/* finetune_update.c: one critic/actor round on a fresh batch of segments. */
void ft_round(ft_t *f, int fresh, int round, ft_stats_t *st);
/* Records a skipped update; returns false once finetune.max_skips consecutive skips have happened. */
bool ft_skip(ft_t *f, ft_stats_t *st, const char *what);
/* Marks an update that went through (resets the consecutive-skip count). */
void ft_ok(ft_t *f);

#endif
