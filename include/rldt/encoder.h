/* rldt/encoder.h — the DrQ-style image encoder: uint8 images to a small feature vector for a policy or a
 * critic (Yarats et al., "Image Augmentation Is All You Need", 2021).
 *
 *   uint8 [B][h][w][c] --image_shift (random shift by up to `shift` pixels when augmenting; v/255 - 0.5)-->
 *   `layers` x { 3x3 conv, `channels` filters, stride `stride0` for the first layer and 1 after, no padding,
 *   ReLU } --flatten (NHWC: [Ho][Wo][channels])--> Linear(flat, feature) -> LayerNorm -> tanh -> [B][feature]
 *
 * DrQ's encoder is 4 layers of 32 channels, first stride 2, feature 50, on 84 x 84 frames (flat = 35 * 35 *
 * 32). Like the MLP (rldt/nn.h) it separates the spec, a flat parameter buffer owned by the caller (so it can
 * sit in one buffer with the networks it feeds, under one optimizer and one checkpoint tensor) and a
 * workspace sized once for a maximum batch. Parameter layout, in order: per conv layer W[channels][3][3][in
 * channels] then bias[channels]; the projection W[feature][flat] then bias[feature]; LayerNorm gamma[feature]
 * then beta[feature]. Initialisation: PyTorch's defaults (U(+-1/sqrt(fan_in)) for conv and linear weights and
 * biases, gamma 1, beta 0), not DrQ's orthogonal one. */
#ifndef RLDT_ENCODER_H
#define RLDT_ENCODER_H

#include "rldt/backend.h"
#include "rldt/conv.h"
#include "rldt/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_ENCODER_MAX_LAYERS 8
/* Floats of im2col scratch the encoder keeps (twice: rows and their gradient), 16 MiB each: the layers run
 * in chunks of images that fit (rldt_conv_chunk), at least one image. */
#define RLDT_ENCODER_COL_FLOATS ((size_t)1 << 22)

typedef struct {
    int h, w, c;        /* input images */
    int layers;         /* conv layers, 1 .. RLDT_ENCODER_MAX_LAYERS (DrQ: 4) */
    int channels;       /* filters per conv layer (DrQ: 32) */
    int stride0;        /* the first layer's stride (DrQ: 2); the others have stride 1 */
    int feature;        /* output features (DrQ: 50) */
    int shift;          /* augmentation: random shift of up to this many pixels (DrQ: 4); 0: none */
} rldt_encoder_spec_t;

/* DrQ's encoder for h x w x c images. */
rldt_encoder_spec_t rldt_encoder_drq(int h, int w, int c);

typedef struct {
    rldt_encoder_spec_t spec;
    const rldt_backend_t *be;
    rldt_conv_t conv[RLDT_ENCODER_MAX_LAYERS];
    size_t conv_param[RLDT_ENCODER_MAX_LAYERS], proj_param, ln_param; /* offsets in the parameter buffer */
    size_t nparams;
    int flat;                 /* features into the projection: the last layer's Ho * Wo * channels */
    int max_batch, batch;     /* the workspace's batch, the last forward's */
    size_t col_floats;        /* each of col, dcol */
    float *ws;                /* backend memory, carved into: */
    float *x0;                /* [B][h][w][c] the (shifted) float images */
    float *act[RLDT_ENCODER_MAX_LAYERS]; /* [B][Ho][Wo][channels] each layer's ReLU output */
    float *proj, *norm, *stats, *out;    /* [B][feature] projection, LayerNorm output; mean, rstd [B] each; tanh */
    float *grad[2], *col, *dcol;         /* backward scratch */
} rldt_encoder_t;

/* Checks the spec (RLDT_ERR_USAGE naming the bad field, or the layer whose kernel no longer fits). */
rldt_status_t rldt_encoder_spec_check(const rldt_encoder_spec_t *s);
/* Parameters (floats) of a spec; 0 when the spec is invalid. */
size_t rldt_encoder_param_count(const rldt_encoder_spec_t *s);
/* Floats of the workspace rldt_encoder_init allocates for batches up to max_batch; 0 when the spec is invalid. */
size_t rldt_encoder_ws_floats(const rldt_encoder_spec_t *s, int max_batch);
/* Sizes the layers and allocates the workspace for batches up to max_batch on `be`. */
rldt_status_t rldt_encoder_init(rldt_encoder_t *e, const rldt_encoder_spec_t *s, int max_batch, const rldt_backend_t *be);
void rldt_encoder_free(rldt_encoder_t *e);
/* Initial parameters into a HOST array of e->nparams floats (upload it afterwards). */
void rldt_encoder_init_params(const rldt_encoder_t *e, float *params_host, rldt_rng_t *rng);

/* Features of B <= max_batch images (backend memory, uint8 [B][h][w][c]). aug NULL: no augmentation;
 * else each image is shifted by up to spec.shift pixels with offsets drawn from aug's stream (it advances by
 * rldt_philox_blocks(2B) counters). Returns [B][feature] in the workspace, valid until the next forward. */
const float *rldt_encoder_forward(rldt_encoder_t *e, const float *params, const uint8_t *images, int B, rldt_rng_t *aug);
/* The same from float images already converted (backend memory [B][h][w][c], copied into the workspace). */
const float *rldt_encoder_forward_float(rldt_encoder_t *e, const float *params, const float *x, int B);
/* Backward of the last forward for dL/dfeatures = dout [B][feature]: grads += dL/dparams (grads NULL:
 * skipped), din (may be NULL) = dL/d(the float images) [B][h][w][c]. */
void rldt_encoder_backward(rldt_encoder_t *e, const float *params, float *grads, const float *dout, float *din);

#ifdef __cplusplus
}
#endif
#endif
