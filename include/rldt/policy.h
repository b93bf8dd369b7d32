/* rldt/policy.h — the flow-matching policy: a velocity field v(x, t | s) over action chunks, its K-step
 * Euler sampler and the expected target a†_k (RLDT.md §1–2).
 *
 * Network: sinusoidal features of t (time_dim) -> Linear(time_dim, 2 time_dim) -> Mish -> Linear(., time_dim)
 * gives the time embedding; the body, a residual MLP, reads [x (D) | time embedding | normalised obs] and
 * outputs the velocity (D). Both sub-networks live in one flat parameter buffer: [time MLP | body].
 *
 * Spaces: the flow runs in normalised action space, where each action dimension's bounds map to [-1, 1];
 * a chunk is D = chunk * act_dim floats, action-major within a step ([step][act_dim]). Observations are
 * standardised with the dataset's statistics before they reach the network. rldt_policy_observe and
 * rldt_policy_act convert between env units and network units on the host. */
#ifndef RLDT_POLICY_H
#define RLDT_POLICY_H

#include "rldt/backend.h"
#include "rldt/config.h"
#include "rldt/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int obs_dim, act_dim, chunk, D; /* D = chunk * act_dim */
    int K;                          /* Euler steps */
    int time_dim;
    rldt_mlp_spec_t time_spec, body_spec;
} rldt_policy_spec_t;

typedef struct {
    rldt_policy_spec_t spec;
    const rldt_backend_t *be;
    rldt_mlp_t time_mlp, body;
    size_t nparams, body_offset;
    int max_batch;
    float *ws;            /* backend memory: t, time features and their gradient, body input and its gradient */
    float *obs_mean, *obs_std;   /* host, obs_dim each */
    float *act_low, *act_high;   /* host, act_dim each */
} rldt_policy_t;

/* The spec from the config's policy.* keys for a task with these dimensions. */
rldt_status_t rldt_policy_spec_from_config(const rldt_config_t *cfg, int obs_dim, int act_dim, rldt_policy_spec_t *spec);
/* Builds both sub-networks and the workspace for batches up to max_batch; normalisers start as identity
 * (mean 0, std 1) and action bounds as [-1, 1]. */
rldt_status_t rldt_policy_init(rldt_policy_t *p, const rldt_policy_spec_t *spec, int max_batch, const rldt_backend_t *be);
void rldt_policy_free(rldt_policy_t *p);
/* Initial parameters into a HOST array of p->nparams floats. */
void rldt_policy_init_params(const rldt_policy_t *p, float *params_host, rldt_rng_t *rng);
/* Sets the observation standardisation (std floored at 1e-3, so a constant feature standardises to 0)
 * and the action bounds (host arrays). */
void rldt_policy_set_normalizers(rldt_policy_t *p, const float *obs_mean, const float *obs_std, const float *act_low,
                                 const float *act_high);

/* Velocity v(x, t | obs) for B rows; x [B][D], t [B], obs [B][obs_dim] (normalised) are backend memory.
 * Returns [B][D] in the workspace, valid until the next forward. */
const float *rldt_policy_forward(rldt_policy_t *p, const float *params, const float *x, const float *t,
                                 const float *obs, int B);
/* Backward of the last forward: grads += dL/dparams for dL/dv = dv. The forward's activations survive it, so
 * one forward may be followed by several backwards. */
void rldt_policy_backward(rldt_policy_t *p, const float *params, float *grads, const float *dv);
/* The same, and dx (backend memory [B][D]) += dL/dx, the gradient at the noisy chunk x (the input
 * gradient that back-propagation through the Euler chain needs). */
void rldt_policy_backward_x(rldt_policy_t *p, const float *params, float *grads, const float *dv, float *dx);

/* dobs[B][n] = columns [first, first + n) of dL/dobs of the last backward (backend memory; B of the last
 * forward): the gradient at observation features computed by another network (an image encoder's). */
void rldt_policy_obs_grad(const rldt_policy_t *p, float *dobs, int first, int n);
/* K-step Euler sampling: x holds x_0 on entry (noise, or zeros for deterministic sampling) and x_K on exit.
 * chain (may be NULL) receives x_0..x_K as [K+1][B][D]. x may be the chain itself (its slot 0): then the
 * chain is sampled in place and x_K is in slot K only. All pointers are backend memory. */
void rldt_policy_sample(rldt_policy_t *p, const float *params, const float *obs, int B, float *x, float *chain);
/* Back-propagation through the K Euler steps of a sampled chain (the BPTT baseline, finetune.algo=bptt):
 * chain holds x_0..x_K from rldt_policy_sample with these params and obs, dx holds dL/dx_K on entry. Walking
 * k = K-1..0, each step's forward is recomputed, grads += the gradient of v(x_k, k/K | obs) under
 * dL/dv_k = dL/dx_{k+1} / K, and dx becomes dL/dx_k (dL/dx_0 on exit). dv: a [B][D] scratch. With norms
 * (host, K doubles; may be NULL), norms[k] = the L2 norm of step k's own share of the parameter gradient,
 * computed in scratch (nparams floats). All other pointers are backend memory. */
void rldt_policy_chain_backward(rldt_policy_t *p, const float *params, float *grads, const float *obs, int B,
                                const float *chain, float *dx, float *dv, float *scratch, double *norms);
/* The L2 norm of the parameter gradient that dv = dL/dv alone gives for the last forward, computed in
 * scratch (backend memory, nparams floats); nothing else changes. */
double rldt_policy_grad_norm(rldt_policy_t *p, const float *params, const float *dv, float *scratch);
/* a†_k = x_k + (1 - t_k) v(x_k, t_k | obs) with t_k = k / K, into out [B][D]. */
void rldt_policy_expected_target(rldt_policy_t *p, const float *params, const float *xk, int k, const float *obs,
                                 int B, float *out);

/* Host: raw observations [B][obs_dim] -> standardised. */
void rldt_policy_observe(const rldt_policy_t *p, const float *raw, float *out, int B);
/* Host: raw actions [n][act_dim] -> normalised [-1, 1] coordinates. */
void rldt_policy_normalize_actions(const rldt_policy_t *p, const float *raw, float *out, int n);
/* Host: normalised actions [n][act_dim] -> env units, clipped to the bounds. */
void rldt_policy_act(const rldt_policy_t *p, const float *norm, float *out, int n);

/* ------------------------------------------------------------------------------------------------ */
/* Policies in checkpoints (host/rl/policy_io.c). A checkpoint holding a policy stores the scalars obs_dim and
 * act_dim, the tensors norm/obs_mean, norm/obs_std, norm/act_low, norm/act_high, and the weights to act
 * with under RLDT_POLICY_WEIGHTS (after pretraining: the EMA weights; after fine-tuning: the actor's). */
#define RLDT_POLICY_WEIGHTS "policy/weights"
struct rldt_ckpt;
struct rldt_ckpt_tensor;

/* Writes the normaliser tensors of p into out[0..3] (pointing into p) and returns 4. */
int rldt_policy_norm_tensors(const rldt_policy_t *p, struct rldt_ckpt_tensor *out);
/* Reads the config (into cfg), dimensions and normalisers of an open checkpoint and builds the policy
 * for batches up to max_batch on `be`. Every value is checked first: the dimensions against the
 * normalisers, RLDT_POLICY_WEIGHTS's length against the p->nparams the config describes, the normalisers
 * for usable values (RLDT_ERR_USAGE naming the file and the tensor or scalar; nothing is left allocated). A pixel
 * policy's checkpoint is refused here (RLDT_ERR_USAGE); rldt_policy_from_ckpt_pixels (rldt/pixels.h) takes it. */
rldt_status_t rldt_policy_from_ckpt(struct rldt_ckpt *c, rldt_config_t *cfg, rldt_policy_t *p, int max_batch,
                                    const rldt_backend_t *be);

#ifdef __cplusplus
}
#endif
#endif
