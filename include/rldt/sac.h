/* rldt/sac.h — Soft Actor-Critic (Haarnoja et al. 2018, with the automatic temperature of "Soft Actor-Critic
 * Algorithms and Applications"): the baseline of the locomotion tasks and the policy that makes their datasets.
 *
 * Actor: an MLP obs -> [mean | log-std] (act_dim each). The log-std is clamped to [RLDT_SAC_LOG_STD_MIN,
 * RLDT_SAC_LOG_STD_MAX]; a sample is a = tanh(u), u = mean + exp(log-std) eps with eps ~ N(0, I) (the
 * reparameterisation), and its log-density carries the tanh change of variables:
 *     log pi(a|s) = sum_j [ -eps_j^2/2 - log-std_j - log(2 pi)/2 - log(1 - tanh(u_j)^2) ].
 * Actions live in [-1, 1] (the replay buffer and the critics see them so) and are mapped linearly onto the
 * task's bounds only when they reach the env. The deterministic action is tanh(mean).
 * Critics: the twin Q networks of rldt/critic.h (members = 2) with Polyak targets.
 * Temperature: alpha = exp(log_alpha), trained toward the target entropy H = sac.entropy_per_dim * act_dim.
 *
 * One update on a minibatch of B transitions (s, a, r, s', terminated):
 *   critic:  y = r + gamma (1 - terminated) (min_i Q'_i(s', a') - alpha log pi(a'|s')),  a' ~ pi(.|s')
 *            L_Q = sum_i mean_b (Q_i(s, a) - y)^2
 *   actor:   L_pi = mean_b [ alpha log pi(a~|s) - min_i Q_i(s, a~) ],  a~ ~ pi(.|s) (reparameterised)
 *   alpha:   L_alpha = -mean_b log_alpha (log pi(a~|s) + H)
 *   targets: Q' <- Q' + tau (Q - Q')
 * A truncated step (the time limit) bootstraps: only `terminated` stops the bootstrap.
 *
 * The networks, their gradients and Adam run on the backend (rldt_mlp, rldt_trainable_t, rldt_critic_t);
 * the head (the per-element math below, over [B][act_dim]) and the TD targets run on the host between an
 * upload and a download, so SAC needs no backend op of its own and runs on every backend. */
#ifndef RLDT_SAC_H
#define RLDT_SAC_H

#include <stdbool.h>

#include "rldt/backend.h"
#include "rldt/checkpoint.h"
#include "rldt/config.h"
#include "rldt/critic.h"
#include "rldt/env.h"
#include "rldt/nn.h"
#include "rldt/optim.h"
#include "rldt/replay.h"
#include "rldt/rollout.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_SAC_LOG_STD_MIN -20.0f
#define RLDT_SAC_LOG_STD_MAX 2.0f
#define RLDT_SAC_KIND "sac" /* checkpoint kind */

// ---------------------------------------------------------------------------------------------------
// per-element head math (host and device)

/* log(1 - tanh(u)^2) without cancellation: 2 (log 2 - u - softplus(-2u)). */
RLDT_HD float rldt_sac_log_dtanh(float u) { return 2.0f * (0.693147181f - u - rldt_softplusf(-2.0f * u)); }

/* One action dimension: from the mean mu, the raw log-std s and the unit noise eps, writes a = tanh(u),
 * u = mu + exp(clamp(s)) eps, and returns its term of log pi(a|s). */
RLDT_HD float rldt_sac_head_elem(float mu, float s, float eps, float *a)
{
    float ls = fminf(fmaxf(s, RLDT_SAC_LOG_STD_MIN), RLDT_SAC_LOG_STD_MAX), u = mu + expf(ls) * eps;
    *a = tanhf(u);
    return -0.5f * eps * eps - ls - 0.918938533f - rldt_sac_log_dtanh(u);
}

/* Its backward with eps held fixed: given dL/da and dL/dlogp of the row, dL/dmu and dL/ds. With
 * u = mu + sigma eps: d log pi / du = 2 tanh(u) (the squash term; the Gaussian term is -eps^2/2 - ls, eps
 * fixed), da/du = 1 - a^2, du/dmu = 1, du/ds = sigma eps and d log pi / ds = -1 directly; the clamp passes
 * no gradient outside its range. */
RLDT_HD void rldt_sac_head_grad(float mu, float s, float eps, float a, float da, float dlogp, float *dmu, float *ds)
{
    float inside = s >= RLDT_SAC_LOG_STD_MIN && s <= RLDT_SAC_LOG_STD_MAX ? 1.0f : 0.0f;
    float ls = fminf(fmaxf(s, RLDT_SAC_LOG_STD_MIN), RLDT_SAC_LOG_STD_MAX);
    float du = da * (1.0f - a * a) + dlogp * 2.0f * a;
    (void)mu;
    *dmu = du;
    *ds = inside * (du * expf(ls) * eps - dlogp);
}

/* Rows b < B of the actor's output out[B][2A] ([mean | raw log-std] per row) and noise eps[B][A]: actions
 * a[B][A] and log pi logp[B] (logp may be NULL). eps NULL: the deterministic action tanh(mean). Host memory. */
void rldt_sac_head_forward(const float *out, const float *eps, int B, int A, float *a, float *logp);
/* The gradient at the actor's output dout[B][2A] of a loss with dL/da = da[B][A] and dL/dlogp = dlogp[B]. */
void rldt_sac_head_backward(const float *out, const float *eps, const float *a, const float *da, const float *dlogp, int B,
                            int A, float *dout);

// ---------------------------------------------------------------------------------------------------
// the agent

typedef struct {
    int obs_dim, act_dim, width, depth, max_batch;
    const rldt_backend_t *be;
    rldt_mlp_t actor_net;
    rldt_trainable_t actor;     /* the actor's parameters, gradients and Adam moments */
    rldt_critic_t critic;       /* twin Q with targets */
    rldt_trainable_t log_alpha; /* one parameter */
    rldt_adam_t opt;
    float actor_lr, critic_lr, alpha_lr, gamma, tau, target_entropy;
    rldt_rng_t rng;             /* the updates' noise and minibatches */
    long updates;               /* gradient updates taken */
    /* backend buffers [max_batch][...] */
    float *d_obs, *d_next, *d_act, *d_new, *d_y, *d_dout, *d_g;
    /* host scratch */
    float *h_out, *h_eps, *h_act, *h_batch_act, *h_logp, *h_y, *h_q[2], *h_g[2], *h_da, *h_dlogp, *h_dout;
    float *h_obs, *h_next, *h_rew;
    uint8_t *h_term;
} rldt_sac_t;

/* Statistics of the updates since the last call of rldt_sac_stats_reset. */
typedef struct {
    double critic_loss, actor_loss, alpha_loss, entropy, q;
    long n;       /* updates summed */
    long skipped; /* updates with a non-finite loss or gradient (skipped, parameters untouched) */
} rldt_sac_stats_t;

/* Builds the actor, the twin critics and the temperature from the sac.* keys of `cfg` for a task with these
 * dimensions, initialised from run.seed; max_batch covers both sac.batch and `acting` observations at once. */
rldt_status_t rldt_sac_init(rldt_sac_t *s, const rldt_config_t *cfg, int obs_dim, int act_dim, int acting,
                            const rldt_backend_t *be);
void rldt_sac_free(rldt_sac_t *s);
/* The current temperature exp(log_alpha). */
float rldt_sac_alpha(const rldt_sac_t *s);
/* Actions in [-1, 1] for n <= max_batch raw observations (host memory): deterministic tanh(mean), or a sample
 * drawn with noise from `rng`. */
void rldt_sac_act(rldt_sac_t *s, const float *obs, int n, bool deterministic, rldt_rng_t *rng, float *actions);
/* One SAC update (critic, actor, temperature, targets) on B transitions drawn uniformly from `buf` (a
 * T = 1 replay buffer holding actions in [-1, 1]). */
void rldt_sac_update(rldt_sac_t *s, const rldt_replay_t *buf, int B, rldt_sac_stats_t *st);
/* The same on a given minibatch (host memory: obs and next [B][obs_dim], act [B][act_dim], rew [B],
 * terminated [B]) and critic noise eps_next / actor noise eps_now ([B][act_dim] each). Returns the losses
 * in *st. Used by rldt_sac_update, and by tests with their own noise. */
void rldt_sac_update_batch(rldt_sac_t *s, const float *obs, const float *act, const float *rew, const uint8_t *term,
                           const float *next, int B, const float *eps_next, const float *eps_now, rldt_sac_stats_t *st);

/* Stores the n transitions of one vector step (chunk 1) in `buf` (T = 1): observations obs [n][obs_dim]
 * before the step, actions unit [n][act_dim] in [-1, 1], and the step's output. The next observation is
 * out->final_obs where the episode ended (terminated or truncated), else out->obs; only `terminated` stops
 * the bootstrap, so a truncated step keeps terminated = 0 (ended = 1). */
void rldt_sac_store(rldt_replay_t *buf, const float *obs, const float *unit, const rldt_vec_out_t *out, int n);
/* Maps actions in [-1, 1] onto the task's bounds (and back). n rows of spec->act_dim. */
void rldt_sac_to_env(const rldt_env_spec_t *spec, const float *a, int n, float *out);

/* Tensors and scalars a caller stores beside the agent's (the training run's state, for sac.resume). */
typedef struct {
    const rldt_ckpt_tensor_t *tensors;
    int n_tensors;
    const rldt_ckpt_scalar_t *scalars;
    int n_scalars;
} rldt_sac_extra_t;
/* Saves the agent (actor, critics, targets, temperature, Adam moments and step counts) with `cfg` as a
 * checkpoint of kind "sac", with `extra` (may be NULL) beside it; env_steps is recorded. */
rldt_status_t rldt_sac_save(const rldt_sac_t *s, const rldt_config_t *cfg, long env_steps, const rldt_sac_extra_t *extra,
                            const char *path);
/* Opens a "sac" checkpoint: its config into *cfg, then an agent with its weights, for acting on up to
 * `acting` observations (`be`: NULL picks the CPU). A missing file, another kind, or tensors whose sizes
 * are not its config's: RLDT_ERR_USAGE naming the file and the problem. */
rldt_status_t rldt_sac_load(rldt_sac_t *s, rldt_config_t *cfg, const char *path, int acting, const rldt_backend_t *be);
/* Reads an open "sac" checkpoint's agent (weights, moments, step counts) into s, built for the same sizes:
 * a tensor of another size gives RLDT_ERR_USAGE naming the file and the tensor. */
rldt_status_t rldt_sac_restore(rldt_sac_t *s, rldt_ckpt_t *c);

/* s as an agent (rldt/rollout.h): tanh(mean) when deterministic, else samples drawn from `seed`'s policy
 * stream, in the task's action units. */
typedef struct {
    rldt_sac_t *sac;
    const rldt_env_spec_t *spec;
    rldt_rng_t rng;
    float *unit; /* [max_batch][act_dim] */
} rldt_sac_agent_t;
void rldt_sac_agent_init(rldt_sac_agent_t *a, rldt_sac_t *s, const rldt_env_spec_t *spec, uint64_t seed, rldt_agent_t *out);
void rldt_sac_agent_free(rldt_sac_agent_t *a);

// ---------------------------------------------------------------------------------------------------
// training

typedef struct {
    long env_steps, updates;
    rldt_eval_result_t eval_first, eval_last; /* the first and the final deterministic evaluations */
    double seconds;
    char ckpt_path[RLDT_PATH_MAX + 1];
} rldt_sac_result_t;

/* `rldt sac`: trains from scratch on `spec` for sac.steps env steps with env.n_envs envs; writes
 * <run.out_dir>/<run.name>/ metrics.csv, metrics.jsonl and sac.ckpt (plus sac_<steps>.ckpt every
 * sac.ckpt_every steps), and evaluates every sac.eval_every steps and at the end. */
rldt_status_t rldt_sac_train(const rldt_config_t *cfg, const rldt_env_spec_t *spec, const rldt_backend_t *be,
                             rldt_sac_result_t *res);

#ifdef __cplusplus
}
#endif
#endif
