/* rldt/critic.h — the critic ensemble of RLDT (RLDT.md §5): M Q(s, a_chunk) MLPs with Polyak targets.
 *
 * Each member is a plain MLP [obs | chunk] -> width x depth (SiLU) -> 1 with weights N(0, 0.1^2) and zero
 * biases. All members' online parameters live in one rldt_trainable_t ([member 0 | member 1 | ...], so one
 * Adam call updates the ensemble) and their targets in one more buffer, so a Polyak update is one lerp.
 * Observations are standardised and action chunks normalised by the caller (the policy's units).
 *
 * Pixel critics (rldt_critic_init_pixels): the members' input is [obs | features | act], the features those
 * of one DrQ encoder (rldt/encoder.h) of the state's image, shared by the members as in DrQ (its twin Qs
 * share one encoder that both TD losses train). Its parameters follow the members' in the online buffer, and
 * its Polyak target follows theirs in the target buffer, so one Adam call, one lerp and one checkpoint tensor
 * cover it. rldt_critic_encode computes the features of a batch's images (online or target encoder); the
 * calls below that take obs then use them for the same rows, and rldt_critic_accumulate also adds the TD
 * loss's gradient through the online encoder (its features must be the online ones). The action gradients
 * reach no encoder parameter. */
#ifndef RLDT_CRITIC_H
#define RLDT_CRITIC_H

#include <stdbool.h>

#include "rldt/backend.h"
#include "rldt/encoder.h"
#include "rldt/nn.h"
#include "rldt/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_MAX_MEMBERS 16 /* most ensemble members (critic.members) */

typedef struct {
    int obs_dim, D, members, max_batch;
    const rldt_backend_t *be;
    rldt_mlp_t net;          /* one program and workspace, run once per member */
    size_t member_params;    /* parameters per member */
    rldt_trainable_t online; /* members' parameters, gradients and Adam moments */
    float *target;           /* members' target parameters */
    float *in, *din;         /* [B][obs_dim + D] packed input and its gradient */
    float *ones, *q, *dq;    /* [B]: dQ/dQ = 1, a Q column, its loss gradient */
    rldt_encoder_t enc;      /* pixel critics: the shared image encoder (enc.ws NULL: none) */
    int F;                   /* its features (0: none) */
    size_t enc_at;           /* its parameters' offset in the online and target buffers */
    const float *feat;       /* [B][F]: the features of the last rldt_critic_encode */
    float *dfeat;            /* [B][F]: the loss's gradient at them */
} rldt_critic_t;

/* Builds M members of width x depth on `be`, initialised from `rng`, targets equal to the online nets. */
rldt_status_t rldt_critic_init(rldt_critic_t *c, int obs_dim, int D, int width, int depth, int members, int max_batch,
                               const rldt_backend_t *be, rldt_rng_t *rng);
/* The same with an image encoder of spec `enc` (NULL: none, as rldt_critic_init), initialised from rng after
 * the members. */
rldt_status_t rldt_critic_init_pixels(rldt_critic_t *c, int obs_dim, int D, int width, int depth, int members, int max_batch,
                                      const rldt_backend_t *be, rldt_rng_t *rng, const rldt_encoder_spec_t *enc);
void rldt_critic_free(rldt_critic_t *c);
/* Pixel critics: the features of B images (backend uint8 [B][h][w][c]) by the online encoder, or the target
 * one when `target`, shifted with draws from aug (NULL: not shifted), for the next calls on these rows. */
void rldt_critic_encode(rldt_critic_t *c, bool target, const uint8_t *images, int B, rldt_rng_t *aug);

/* Q of member m (online, or target when `target`) at obs [B][obs_dim], act [B][D] (backend memory).
 * Returns [B] in the workspace, valid until the next call. */
const float *rldt_critic_q(rldt_critic_t *c, int m, bool target, const float *obs, const float *act, int B);
/* out[B] = min over members of the target Q (the bootstrap value of RLDT.md §5). */
void rldt_critic_target_min(rldt_critic_t *c, const float *obs, const float *act, int B, float *out);
/* out[B] = (1/M) Σ_m min over members of the target Q at (obs, acts + m·stride): the bootstrap value Q̄(s')
 * of RLDT.md §5 over M policy samples per next state (unclipped: rldt_td_lambda clips it). tmp: [B]. */
void rldt_critic_bootstrap(rldt_critic_t *c, const float *obs, const float *acts, int M, size_t stride, int B, float *out,
                           float *tmp);
/* g[B][D] = mean over members of dQ_online/da at (obs, act): the transport field's gradient term. */
void rldt_critic_action_grad(rldt_critic_t *c, const float *obs, const float *act, int B, float *g);
/* g[B][D] = dQ_m/da of member m (online) at (obs, act). Returns Q_m [B] in the workspace, valid until the
 * next call. */
const float *rldt_critic_member_action_grad(rldt_critic_t *c, int m, const float *obs, const float *act, int B, float *g);
/* Adds member m's MSE loss gradient on (obs, act) -> targets[B] to the online gradients; returns the loss. */
double rldt_critic_accumulate(rldt_critic_t *c, int m, const float *obs, const float *act, const float *targets, int B);
/* target <- target + tau (online - target) for every member. */
void rldt_critic_polyak(rldt_critic_t *c, float tau);

#ifdef __cplusplus
}
#endif
#endif
