/* rldt/pixels.h — a flow policy that sees images: the one place where a low-dim observation and an image
 * become the policy's input.
 *
 * A pixel policy (policy.encoder = drq) observes od low-dim floats and one uint8 [h][w][c] image. Its
 * network input (rldt_policy_t's obs_dim = od + F) is the standardised low-dim observation followed by the
 * F features of a DrQ encoder (rldt/encoder.h) of the image; the encoder's parameters follow the policy's
 * (at offset `at`) in one buffer, so training, the EMA and checkpoints treat both as one. The feature
 * columns' normalisers are identity (mean 0, std 1). Pretraining, acting (rldt/rollout.h) and
 * evaluation build their inputs with these functions only. */
#ifndef RLDT_PIXELS_H
#define RLDT_PIXELS_H

#include "rldt/encoder.h"
#include "rldt/env.h"
#include "rldt/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    rldt_encoder_t enc; /* enc.ws NULL: a low-dim policy (no images; every function below does nothing) */
    int od, F;          /* low-dim observation columns; encoder features after them */
    size_t at;          /* the encoder's parameters start here in the parameter buffer */
    float *dfeat;       /* backend [max_batch][F]: the loss's gradient at the features */
} rldt_pixels_t;

/* A pixel policy's encoder for h x w x c images from the config's policy.encoder_* keys, for a policy whose
 * low-dim observation has od columns; the caller sets px->at (the policy's nparams). RLDT_ERR_USAGE for a bad
 * shape. */
rldt_status_t rldt_pixels_init(rldt_pixels_t *px, const rldt_config_t *cfg, int od, int h, int w, int c, int max_batch,
                               const rldt_backend_t *be);
void rldt_pixels_free(rldt_pixels_t *px);
/* Whether task spec observes the h x w x c images a pixel policy sees (h 0: a low-dim policy, always fine):
 * RLDT_ERR_USAGE naming the task and both shapes, or saying it observes none. */
rldt_status_t rldt_pixels_check_task(int h, int w, int c, const rldt_env_spec_t *spec);
/* Bytes of one image (0: a low-dim policy). */
size_t rldt_pixels_image_bytes(const rldt_pixels_t *px);
/* Host: raw low-dim observations [B][od] -> standardised policy input rows [B][p->spec.obs_dim] whose feature
 * columns are 0 until rldt_pixels_encode fills them (px NULL: a low-dim policy, rldt_policy_observe). out may
 * be raw. */
void rldt_pixels_observe(const rldt_pixels_t *px, const rldt_policy_t *p, const float *raw, float *out, int B);
/* The features of B images (backend uint8 [B][h][w][c]; shifted with draws from aug, NULL: not shifted) into
 * the feature columns of obs (backend [B][od + F]); params: the whole buffer (policy, then encoder). */
void rldt_pixels_encode(rldt_pixels_t *px, const float *params, float *obs, const uint8_t *images, int B, rldt_rng_t *aug);
/* grads += the encoder's share of the last rldt_policy_backward's gradient (after an rldt_pixels_encode of
 * the same rows). */
void rldt_pixels_backward(rldt_pixels_t *px, const rldt_policy_t *p, const float *params, float *grads);

/* rldt_policy_from_ckpt (rldt/policy.h) for any policy: a pixel policy's checkpoint also holds the scalars
 * image_h, image_w, image_c and the encoder's weights after the policy's (px->at); px gets its encoder (for a
 * low-dim policy px->enc.ws stays NULL). Every value is checked first (RLDT_ERR_USAGE naming the file). */
struct rldt_ckpt;
rldt_status_t rldt_policy_from_ckpt_pixels(struct rldt_ckpt *c, rldt_config_t *cfg, rldt_policy_t *p, rldt_pixels_t *px,
                                           int max_batch, const rldt_backend_t *be);

#ifdef __cplusplus
}
#endif
#endif
