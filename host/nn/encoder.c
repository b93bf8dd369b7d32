/* encoder.c — the DrQ image encoder (rldt/encoder.h) as a fixed sequence of backend ops: image_shift, one
 * rldt_conv2d_forward per layer (ReLU fused, only act(pre) kept: ReLU's derivative reads the same from it),
 * linear_forward, layernorm_forward, tanh. Backward runs them in reverse over two ping-pong gradient buffers.
 * Nothing allocates after init. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/encoder.h"

rldt_encoder_spec_t rldt_encoder_drq(int h, int w, int c)
{
    return (rldt_encoder_spec_t){.h = h, .w = w, .c = c, .layers = 4, .channels = 32, .stride0 = 2, .feature = 50, .shift = 4};
}

/* The layers' geometries into conv[] (may be NULL), the flattened width into *flat. */
static rldt_status_t shapes(const rldt_encoder_spec_t *s, rldt_conv_t *conv, int *flat)
{
    if (s->layers < 1 || s->layers > RLDT_ENCODER_MAX_LAYERS)
        return rldt_error_set(RLDT_ERR_USAGE, "encoder: layers %d outside [1, %d]", s->layers, RLDT_ENCODER_MAX_LAYERS);
    if (s->channels < 1) return rldt_error_set(RLDT_ERR_USAGE, "encoder: channels %d < 1", s->channels);
    if (s->stride0 < 1) return rldt_error_set(RLDT_ERR_USAGE, "encoder: stride0 %d < 1", s->stride0);
    if (s->feature < 1) return rldt_error_set(RLDT_ERR_USAGE, "encoder: feature %d < 1", s->feature);
    if (s->shift < 0) return rldt_error_set(RLDT_ERR_USAGE, "encoder: shift %d < 0", s->shift);
    if (s->c < 1 || s->c > 4) return rldt_error_set(RLDT_ERR_USAGE, "encoder: image channels %d outside [1, 4]", s->c);
    int H = s->h, W = s->w, C = s->c;
    for (int l = 0; l < s->layers; l++) {
        rldt_conv_t g;
        if (rldt_conv_shape(&g, H, W, C, 3, l ? 1 : s->stride0, 0)) {
            char why[256];
            snprintf(why, sizeof why, "%s", rldt_error_message());
            return rldt_error_set(RLDT_ERR_USAGE, "encoder: %d x %d x %d images are too small for %d layers (layer %d: %s)",
                                  s->h, s->w, s->c, s->layers, l + 1, why);
        }
        if (conv) conv[l] = g;
        H = g.Ho, W = g.Wo, C = s->channels;
    }
    *flat = H * W * C;
    return RLDT_OK;
}

rldt_status_t rldt_encoder_spec_check(const rldt_encoder_spec_t *s)
{
    int flat;
    return shapes(s, NULL, &flat);
}

/* Parameter offsets and the total. */
static size_t layout(const rldt_encoder_spec_t *s, const rldt_conv_t *conv, int flat, size_t *conv_param, size_t *proj,
                     size_t *ln)
{
    size_t n = 0;
    for (int l = 0; l < s->layers; l++) {
        conv_param[l] = n;
        n += (size_t)s->channels * 9 * conv[l].C + s->channels;
    }
    *proj = n;
    n += (size_t)s->feature * flat + s->feature;
    *ln = n;
    return n + 2 * (size_t)s->feature;
}

size_t rldt_encoder_param_count(const rldt_encoder_spec_t *s)
{
    rldt_conv_t conv[RLDT_ENCODER_MAX_LAYERS];
    size_t cp[RLDT_ENCODER_MAX_LAYERS], proj, ln;
    int flat;
    if (shapes(s, conv, &flat)) return 0;
    return layout(s, conv, flat, cp, &proj, &ln);
}

/* Workspace floats for batches of B (see rldt_encoder_init's carving); col_floats: each of col and dcol, grad:
 * the floats per image of each backward scratch. */
static size_t ws_floats(const rldt_encoder_spec_t *s, const rldt_conv_t *conv, int flat, size_t B, size_t *col_floats, size_t *grad)
{
    /* col scratch: at least one image of the widest layer, at most the budget or the whole batch */
    size_t col_img = 0;
    *grad = (size_t)flat > (size_t)s->feature ? (size_t)flat : (size_t)s->feature;
    for (int l = 0; l < s->layers; l++) {
        size_t c = rldt_conv_col_floats(&conv[l]), a = (size_t)conv[l].Ho * conv[l].Wo * s->channels;
        col_img = c > col_img ? c : col_img;
        *grad = a > *grad ? a : *grad;
    }
    size_t col = B * col_img < RLDT_ENCODER_COL_FLOATS ? B * col_img : RLDT_ENCODER_COL_FLOATS;
    *col_floats = col > col_img ? col : col_img;
    size_t total = B * s->h * s->w * s->c + 3 * B * s->feature + 2 * B + 2 * B * *grad + 2 * *col_floats;
    for (int l = 0; l < s->layers; l++) total += B * conv[l].Ho * conv[l].Wo * s->channels;
    return total;
}

size_t rldt_encoder_ws_floats(const rldt_encoder_spec_t *s, int max_batch)
{
    rldt_conv_t conv[RLDT_ENCODER_MAX_LAYERS];
    int flat;
    size_t col, grad;
    if (max_batch < 1 || shapes(s, conv, &flat)) return 0;
    return ws_floats(s, conv, flat, (size_t)max_batch, &col, &grad);
}

rldt_status_t rldt_encoder_init(rldt_encoder_t *e, const rldt_encoder_spec_t *s, int max_batch, const rldt_backend_t *be)
{
    memset(e, 0, sizeof *e);
    rldt_status_t st = shapes(s, e->conv, &e->flat);
    if (st) return st;
    if (max_batch < 1) return rldt_error_set(RLDT_ERR_USAGE, "encoder: max batch %d < 1", max_batch);
    e->spec = *s;
    e->be = be;
    e->max_batch = max_batch;
    e->nparams = layout(s, e->conv, e->flat, e->conv_param, &e->proj_param, &e->ln_param);
    size_t grad, total = ws_floats(s, e->conv, e->flat, (size_t)max_batch, &e->col_floats, &grad), B = (size_t)max_batch;
    e->ws = be->alloc(sizeof(float) * total);
    if (!e->ws)
        return rldt_error_set(RLDT_ERR, "encoder: cannot allocate a %zu-float workspace on %s", total, be->name);
    float *p = e->ws;
    e->x0 = p, p += B * s->h * s->w * s->c;
    for (int l = 0; l < s->layers; l++) e->act[l] = p, p += B * e->conv[l].Ho * e->conv[l].Wo * s->channels;
    e->proj = p, p += B * s->feature;
    e->norm = p, p += B * s->feature;
    e->out = p, p += B * s->feature;
    e->stats = p, p += 2 * B;
    e->grad[0] = p, p += B * grad;
    e->grad[1] = p, p += B * grad;
    e->col = p, p += e->col_floats;
    e->dcol = p;
    return RLDT_OK;
}

void rldt_encoder_free(rldt_encoder_t *e)
{
    if (e->ws) e->be->free(e->ws);
    memset(e, 0, sizeof *e);
}

void rldt_encoder_init_params(const rldt_encoder_t *e, float *P, rldt_rng_t *rng)
{
    const rldt_encoder_spec_t *s = &e->spec;
    for (int l = 0; l < s->layers; l++) {
        size_t fan_in = 9 * (size_t)e->conv[l].C, n = (size_t)s->channels * fan_in + s->channels;
        float bound = 1.0f / sqrtf((float)fan_in), *w = P + e->conv_param[l];
        for (size_t i = 0; i < n; i++) w[i] = bound * (2.0f * rldt_rng_uniform(rng) - 1.0f);
    }
    float bound = 1.0f / sqrtf((float)e->flat), *w = P + e->proj_param;
    for (size_t i = 0; i < (size_t)s->feature * e->flat + s->feature; i++) w[i] = bound * (2.0f * rldt_rng_uniform(rng) - 1.0f);
    for (int f = 0; f < s->feature; f++) {
        P[e->ln_param + f] = 1.0f;
        P[e->ln_param + s->feature + f] = 0.0f;
    }
}

// ---------------------------------------------------------------------------------------------------
// forward and backward

/* The layers on e->x0. */
static const float *run(rldt_encoder_t *e, const float *P, int B)
{
    const rldt_backend_t *be = e->be;
    const rldt_encoder_spec_t *s = &e->spec;
    e->batch = B;
    for (int l = 0; l < s->layers; l++)
        rldt_conv2d_forward(be, e->act[l], e->act[l], l ? e->act[l - 1] : e->x0, P + e->conv_param[l], RLDT_ACT_RELU,
                            &e->conv[l], s->channels, B, e->col, e->col_floats);
    const float *Wp = P + e->proj_param;
    be->linear_forward(e->proj, NULL, e->act[s->layers - 1], Wp, Wp + (size_t)s->feature * e->flat, NULL,
                       RLDT_ACT_IDENTITY, B, e->flat, s->feature);
    be->layernorm_forward(e->norm, e->stats, e->stats + B, e->proj, P + e->ln_param, P + e->ln_param + s->feature, B,
                          s->feature);
    be->act_forward(RLDT_ACT_TANH, e->out, e->norm, (size_t)B * s->feature);
    return e->out;
}

static rldt_status_t check_batch(const rldt_encoder_t *e, int B)
{
    if (B < 1 || B > e->max_batch)
        return rldt_error_set(RLDT_ERR_USAGE, "encoder: batch %d outside [1, %d]", B, e->max_batch);
    return RLDT_OK;
}

const float *rldt_encoder_forward(rldt_encoder_t *e, const float *P, const uint8_t *images, int B, rldt_rng_t *aug)
{
    if (check_batch(e, B)) return NULL;
    const rldt_encoder_spec_t *s = &e->spec;
    int pad = aug ? s->shift : 0;
    uint64_t counter = pad ? rldt_rng_claim(aug, 2 * (size_t)B) : 0;
    e->be->image_shift(e->x0, images, B, s->h, s->w, s->c, pad, aug ? aug->seed : 0, aug ? aug->stream : 0, counter);
    return run(e, P, B);
}

const float *rldt_encoder_forward_float(rldt_encoder_t *e, const float *P, const float *x, int B)
{
    if (check_batch(e, B)) return NULL;
    e->be->copy(e->x0, x, sizeof(float) * (size_t)B * e->spec.h * e->spec.w * e->spec.c);
    return run(e, P, B);
}

void rldt_encoder_backward(rldt_encoder_t *e, const float *P, float *G, const float *dout, float *din)
{
    const rldt_backend_t *be = e->be;
    const rldt_encoder_spec_t *s = &e->spec;
    int B = e->batch, F = s->feature, L = s->layers;
    float *g0 = e->grad[0], *g1 = e->grad[1];
    /* tanh, LayerNorm, projection: g0 = d norm, g1 = d proj, then g0 = d act[L-1] */
    be->act_backward(RLDT_ACT_TANH, g0, dout, e->norm, (size_t)B * F);
    be->layernorm_backward(g1, G ? G + e->ln_param : NULL, G ? G + e->ln_param + F : NULL, g0, e->proj, e->stats,
                           e->stats + B, P + e->ln_param, B, F);
    float *gp = G ? G + e->proj_param : NULL;
    be->linear_backward(g0, gp, gp ? gp + (size_t)F * e->flat : NULL, g1, g1, NULL, e->proj, RLDT_ACT_IDENTITY,
                        e->act[L - 1], P + e->proj_param, B, e->flat, F);
    /* conv layers: g holds d act[l] on entry; the layer's ReLU gradient in place, d act[l-1] into the other */
    for (int l = L - 1; l >= 0; l--) {
        float *g = (L - 1 - l) % 2 ? g1 : g0, *dx = l ? (g == g0 ? g1 : g0) : din;
        if (!l && !din && !G) break;
        rldt_conv2d_backward(be, dx, G ? G + e->conv_param[l] : NULL, g, g, e->act[l], RLDT_ACT_RELU,
                             l ? e->act[l - 1] : e->x0, P + e->conv_param[l], &e->conv[l], s->channels, B, e->col,
                             e->dcol, e->col_floats);
    }
}
