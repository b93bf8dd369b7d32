/* optim.c — Adam bias corrections and learning-rate schedules (see rldt/optim.h). The update loops
 * themselves are backend ops (host/nn/backend_cpu.c, kernels/optim.cu). */
#include "rldt/optim.h"
#include "rldt/backend.h"
#include "rldt/comm.h"

#include <math.h>
#include <string.h>

rldt_adam_t rldt_adam_default(void) { return (rldt_adam_t){0.9f, 0.999f, 1e-8f, 0.0f, false}; }

float rldt_sched_lr(const rldt_sched_t *s, long step)
{
    if (step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    if (s->kind == RLDT_SCHED_CONSTANT) return s->lr;
    long span = s->total - s->warmup;
    if (span <= 0 || step >= s->total) return s->lr_final;
    double frac = (double)(step - s->warmup) / (double)span;
    return (float)(s->lr_final + (s->lr - s->lr_final) * 0.5 * (1.0 + cos(RLDT_PI * frac)));
}

float rldt_clip_global_norm(const struct rldt_backend *be, float *g, size_t n, float max_norm)
{
    float norm = (float)sqrt(be->sumsq(g, n));
    if (max_norm > 0.0f && norm > max_norm) be->scale(g, max_norm / (norm + 1e-6f), n);
    return norm;
}

rldt_status_t rldt_trainable_init(rldt_trainable_t *t, const struct rldt_backend *be, size_t n, const float *init_host)
{
    memset(t, 0, sizeof *t);
    t->be = be;
    t->n = n;
    t->p = be->alloc(sizeof(float) * n);
    t->g = be->alloc(sizeof(float) * n);
    t->m = be->alloc(sizeof(float) * n);
    t->v = be->alloc(sizeof(float) * n);
    if (!t->p || !t->g || !t->m || !t->v) {
        rldt_trainable_free(t);
        return rldt_error_set(RLDT_ERR, "cannot allocate 4 x %zu floats on the %s backend", n, be->name);
    }
    if (init_host) be->upload(t->p, init_host, sizeof(float) * n);
    return RLDT_OK;
}

void rldt_trainable_free(rldt_trainable_t *t)
{
    float *bufs[4] = {t->p, t->g, t->m, t->v};
    for (int i = 0; i < 4; i++)
        if (bufs[i]) t->be->free(bufs[i]);
    memset(t, 0, sizeof *t);
}

void rldt_trainable_zero_grad(rldt_trainable_t *t) { t->be->fill(t->g, 0.0f, t->n); }

float rldt_trainable_step(rldt_trainable_t *t, const rldt_adam_t *opt, float lr, float max_norm)
{
    rldt_comm_average(t->be, t->g, t->n); /* data parallel: every rank steps on the ranks' mean gradient */
    float norm = rldt_clip_global_norm(t->be, t->g, t->n, max_norm);
    if (!isfinite(norm)) return norm;
    t->step++;
    t->be->adam_step(opt, lr, t->step, t->p, t->g, t->m, t->v, t->n);
    return norm;
}
