/* rldt/optim.h — optimisers and schedules over flat parameter buffers.
 *
 * Adam (Kingma & Ba) with bias correction; AdamW = Adam + decoupled weight decay (Loshchilov & Hutter):
 *   m <- b1 m + (1-b1) g;   v <- b2 v + (1-b2) g^2
 *   p <- p - lr * ( (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + wd * p )        (AdamW)
 *   Adam with wd > 0 adds wd * p to g instead (L2, coupled).
 * The per-element update is rldt_adam_elem, shared by the CPU loop and the CUDA kernel. Schedules give
 * the learning rate for a step; clipping, EMA and Polyak averaging are single passes over a flat buffer. */
#ifndef RLDT_OPTIM_H
#define RLDT_OPTIM_H

#include <math.h>
#include <stdbool.h>

#include "rldt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float beta1, beta2, eps;
    float weight_decay;
    bool decoupled; /* true: AdamW; false: Adam (weight decay, if any, as L2 on the gradient) */
} rldt_adam_t;

/* Adam defaults (0.9, 0.999, 1e-8, no weight decay). */
rldt_adam_t rldt_adam_default(void);

/* One element of step t (t >= 1). bc1 = 1 - b1^t and bc2 = 1 - b2^t are computed once per step. */
RLDT_HD void rldt_adam_elem(const rldt_adam_t *o, float lr, float bc1, float bc2, float *p, float g, float *m, float *v)
{
    if (!o->decoupled) g += o->weight_decay * *p;
    *m = o->beta1 * *m + (1.0f - o->beta1) * g;
    *v = o->beta2 * *v + (1.0f - o->beta2) * g * g;
    float mhat = *m / bc1, vhat = *v / bc2;
    float upd = mhat / (sqrtf(vhat) + o->eps);
    if (o->decoupled) upd += o->weight_decay * *p;
    *p -= lr * upd;
}

/* Bias corrections 1 - b^t for step t >= 1, computed in double for accuracy at large t. */
RLDT_HD void rldt_adam_bias_corrections(const rldt_adam_t *o, long t, float *bc1, float *bc2)
{
    *bc1 = (float)(1.0 - pow((double)o->beta1, (double)t));
    *bc2 = (float)(1.0 - pow((double)o->beta2, (double)t));
}

/* Learning-rate schedules. Step s counts from 0. */
typedef enum { RLDT_SCHED_CONSTANT, RLDT_SCHED_COSINE } rldt_sched_kind_t;
typedef struct {
    rldt_sched_kind_t kind;
    float lr;       /* peak rate, reached at the end of warm-up */
    float lr_final; /* cosine: the rate at step total (and after) */
    long warmup;    /* linear warm-up from lr/warmup at s = 0 to lr at s = warmup - 1 */
    long total;     /* cosine: steps from 0 to the end of the decay (warm-up included) */
} rldt_sched_t;
/* The rate for step s: warm-up lr*(s+1)/warmup while s < warmup; then constant lr or
 * cosine lr_final + (lr - lr_final) * (1 + cos(pi * (s - warmup) / (total - warmup))) / 2. */
float rldt_sched_lr(const rldt_sched_t *s, long step);

struct rldt_backend;

/* A network's training state on a backend: parameters, gradients and Adam moments, each one flat buffer,
 * and the optimiser step count. */
typedef struct {
    const struct rldt_backend *be;
    size_t n;
    float *p, *g, *m, *v;
    long step; /* Adam steps taken */
} rldt_trainable_t;

/* Allocates the four buffers on `be` and uploads n initial parameters from host memory (NULL: zeros). */
rldt_status_t rldt_trainable_init(rldt_trainable_t *t, const struct rldt_backend *be, size_t n, const float *init_host);
void rldt_trainable_free(rldt_trainable_t *t);
/* g <- 0 */
void rldt_trainable_zero_grad(rldt_trainable_t *t);
/* Averages g over the data-parallel ranks (rldt/comm.h; nothing on one rank), clips it to max_norm (0 = no
 * clipping), then takes one Adam step at rate lr. Returns the gradient norm before clipping; a non-finite
 * norm skips the step (parameters and moments untouched, step not counted): after the average every rank
 * sees the same norm, so all skip together. */
float rldt_trainable_step(rldt_trainable_t *t, const rldt_adam_t *opt, float lr, float max_norm);

/* Global-norm clipping of a flat gradient buffer living on backend `be`: if ||g|| > max_norm > 0, scales g
 * by max_norm / (||g|| + 1e-6). Returns ||g|| before clipping (for logging and non-finite checks). */
float rldt_clip_global_norm(const struct rldt_backend *be, float *g, size_t n, float max_norm);

#ifdef __cplusplus
}
#endif
#endif
